"""Frames on their way to one websocket, written by a task of that socket's own,
so that a client that stops reading holds up nobody but itself."""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Awaitable, Coroutine, Generator
from typing import Any

from starlette.types import Send
from starlette.websockets import WebSocket

from api import request_state
from api.direct_frames import DirectFrames

# A subscriber more than this many frames behind is closed and resumes with `after`.
BEHIND_LIMIT = 1000
TOO_SLOW = 4008


class Member:
    """One subscription (an operation id on one socket) inside a fan-out group."""

    __slots__ = ("id", "outbox", "context", "last", "shown", "pending", "gone", "ended", "_drained")

    def __init__(self, id: str, outbox: Outbox, context: Any) -> None:
        self.id = id
        self.outbox = outbox
        self.context = context
        self.last = 0  # the newest position sent (mailServerEvents)
        self.shown: Any = None  # what the client was last shown (mailServerChoicesChanged)
        self.pending = 0  # frames queued, not yet written
        self.gone = False
        self.ended: asyncio.Future[BaseException | None] = asyncio.get_running_loop().create_future()
        self._drained: asyncio.Future[None] | None = None

    def send(self, frame: str, raw: bytes) -> None:
        """Send a `next` message: `frame` is its JSON text, `raw` the same as a websocket frame."""
        self.outbox.put(self, frame, raw)

    def end(self, error: BaseException | None = None) -> None:
        """Finish the subscription: with an error for the client, or complete."""
        if not self.ended.done():
            self.ended.set_result(error)

    def fall_behind(self) -> None:
        """Too far behind: close the socket with 4008; the client resumes with `after`."""
        if self.gone:
            return
        self.gone = True
        self.outbox.close(TOO_SLOW, "subscriber too slow; resume with after")
        self.end()

    async def drained(self) -> None:
        """Until every frame queued so far has been written."""
        if self.pending and not self.gone:
            self._drained = asyncio.get_running_loop().create_future()
            await self._drained

    def _written(self) -> None:
        self.pending -= 1
        if self.pending <= 0 and self._drained is not None and not self._drained.done():
            self._drained.set_result(None)


async def _awaited(awaitable: Awaitable[None]) -> None:
    await awaitable


class _Resume:
    """Awaits a send that was started inline and suspended (the socket would not
    take more), so that the outbox's task can finish it."""

    def __init__(self, send: Coroutine[Any, Any, None], pending: Any) -> None:
        self.send = send
        self.pending = pending

    def __await__(self) -> Generator[Any, None, None]:
        pending = self.pending
        while True:
            try:
                yield pending
            except BaseException as error:  # e.g. cancelled while waiting
                try:
                    pending = self.send.throw(error)
                except StopIteration:
                    return
                continue
            try:
                pending = self.send.send(None)
            except StopIteration:
                return


class Outbox:
    """The frames waiting for one socket, in the order they were put. A frame
    for a socket with nothing waiting is written at once, without a task switch;
    the socket's task takes over only when a write has to wait."""

    def __init__(self, websocket: WebSocket, queued: list[int]) -> None:
        self.websocket = websocket
        # The server's own send when kept (api/server_send.py): frames need none of the wrappers.
        server_send = request_state.server_send(websocket.scope)
        self.send: Send = server_send or websocket.send
        self.direct = DirectFrames(server_send)
        self.frames: deque[tuple[Member, str]] = deque()
        self.ready = asyncio.Event()
        self.task: asyncio.Task[None] | None = None
        self.busy = False  # the task has a write to finish or frames to write
        self.suspended: tuple[Member, _Resume] | None = None
        self.broken = False
        self.queued = queued  # shared with every outbox of the app: frames waiting, for /metrics

    def put(self, member: Member, frame: str, raw: bytes) -> None:
        if member.gone or self.broken:
            return
        if not self.busy and self.direct.write(raw):
            return
        if member.pending >= BEHIND_LIMIT:
            member.fall_behind()
            return
        member.pending += 1
        self.queued[0] += 1
        if not self.busy:
            sending = self.send({"type": "websocket.send", "text": frame})
            send = sending if isinstance(sending, Coroutine) else _awaited(sending)
            try:
                pending = send.send(None)
            except StopIteration:
                self.queued[0] -= 1
                member._written()
                return
            except Exception:  # the client went away; the handler's read loop cleans up
                self.queued[0] -= 1
                member._written()
                self.broken = True
                return
            self.suspended = (member, _Resume(send, pending))
        else:
            self.frames.append((member, frame))
        self.busy = True
        if self.task is None:
            self.task = asyncio.create_task(self._write(), name="ws-outbox")
        else:
            self.ready.set()

    async def _write(self) -> None:
        send = self.send
        try:
            while True:
                if self.suspended is not None:
                    member, resume = self.suspended
                    await resume
                    self.suspended = None
                    self.queued[0] -= 1
                    member._written()
                while self.frames:
                    member, frame = self.frames.popleft()
                    self.queued[0] -= 1
                    if not member.gone:
                        await send({"type": "websocket.send", "text": frame})
                    member._written()
                self.busy = False
                self.ready.clear()
                await self.ready.wait()
        except Exception:  # the client went away; the handler's read loop notices and cleans up
            self.broken = True
            self.stop()

    def close(self, code: int, reason: str) -> None:
        async def close() -> None:
            with contextlib.suppress(Exception):
                await self.websocket.close(code, reason)

        # Not awaited here: closing a socket that does not read may itself wait.
        asyncio.ensure_future(close())

    def stop(self) -> None:
        if self.task is not None and self.task is not asyncio.current_task():
            self.task.cancel()
        waiting = list(self.frames)
        if self.suspended is not None:
            waiting.append((self.suspended[0], ""))
            self.suspended = None
        self.queued[0] -= len(waiting)
        for member, _ in waiting:
            member._written()
        self.frames.clear()
