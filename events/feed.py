"""Follows the log and fans new events out to this process's subscribers.

PostgreSQL LISTEN/NOTIFY is only the wake-up: the feed always reads the log
itself after the last position it has seen, so a lost notification or a
dropped listener connection delays delivery but never loses an event."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from events import store
from events.database import connect_outside_pool
from events.dialect import dialect_of
from events.serialization import utc
from events.store import CHANNEL, RecordedEvent
from events.tables import SERVER_LIST, projection_state

log = logging.getLogger("mailreg.feed")

BATCH = 1000
FEED_NAME = "mailreg feed"
"""The LISTEN connection's application_name in pg_stat_activity."""
_SETTLE_SECONDS = 0.05


class SubscriberOverflowError(Exception):
    """The subscriber fell further behind than its buffer allows."""

    def __init__(self, last_position: int) -> None:
        super().__init__(f"subscriber fell behind; resume after position {last_position}")
        self.last_position = last_position


class Subscriber:
    """A bounded buffer between the feed and one client. A conflating
    subscriber keeps no events, only the fact that something happened."""

    def __init__(
        self, limit: int, *, conflate: bool = False, on_overflow: Callable[[], Awaitable[Any]] | None = None
    ) -> None:
        self.limit = limit
        self.conflate = conflate
        self.items: deque[RecordedEvent] = deque()
        self.ready = asyncio.Event()
        self.overflowed = False
        self.on_overflow = on_overflow

    def push(self, entries: list[RecordedEvent]) -> None:
        """Buffer new events and wake the waiter; overflow drops them and tells the client."""
        if self.overflowed:
            return
        if not self.conflate:
            if len(self.items) + len(entries) > self.limit:
                self.overflowed = True
                self.items.clear()  # bounded memory: drop what the client will re-read with `after`
                if self.on_overflow is not None:
                    asyncio.ensure_future(self.on_overflow())
            else:
                self.items.extend(entries)
        self.ready.set()

    async def wait(self) -> list[RecordedEvent]:
        """The events buffered since the last call (empty for a conflating one)."""
        await self.ready.wait()
        self.ready.clear()
        if self.overflowed:
            raise SubscriberOverflowError(0)
        batch = list(self.items)
        self.items.clear()
        return batch


class EventFeed:
    """Follows the log and hands each new event, once and in order, to every subscriber."""

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        poll_seconds: float = 1.0,
        buffer: int = 1000,
        caught_up: Callable[[datetime], None] | None = None,
    ) -> None:
        self.engine = engine
        self.poll_seconds = poll_seconds
        self.buffer = buffer
        self.position = 0
        self.subscribers: set[Subscriber] = set()
        # Told the time of the newest event each time the feed moves on (lag metrics).
        self.caught_up = caught_up
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self.listening = False

    async def start(self) -> None:
        """Start following from the log's end (woken by NOTIFY on PostgreSQL)."""
        try:
            async with self.engine.connect() as conn:
                self.position = await store.last_position(conn)
        except Exception:
            log.warning("feed: database unreachable at start; will catch up when it is back", exc_info=True)
        self._tasks.append(asyncio.create_task(self._follow(), name="feed-follow"))
        if dialect_of(self.engine).listens:
            self._tasks.append(asyncio.create_task(self._listen(), name="feed-listen"))

    async def stop(self) -> None:
        """Stop following, waiting a few seconds at most."""
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=5)
        self._tasks.clear()

    def wake(self) -> None:
        """Look for new events now (this process just appended some)."""
        self._wake.set()

    def appended(self, recorded: Sequence[RecordedEvent]) -> None:
        """This instance committed `recorded`. With nobody subscribed the feed
        only tracks the log's end, so it moves there without a read."""
        if not recorded:
            return
        if self.subscribers:
            self._wake.set()
            return
        newest = recorded[-1]
        if newest.position > self.position:
            self.position = newest.position
            if self.caught_up is not None:
                self.caught_up(newest.occurred_at)

    def _notified(self, payload: str) -> None:
        # The payload is the committed position: one this feed has already
        # passed needs no read. Our own commit's notice can overtake the reply
        # that leads to `appended`; with nobody subscribed nothing is late, so
        # it looks again a moment later instead of reading now.
        try:
            position = int(payload)
        except ValueError:
            self._wake.set()
            return
        if position <= self.position:
            return
        if self.subscribers:
            self._wake.set()
        else:
            asyncio.get_running_loop().call_later(_SETTLE_SECONDS, self._recheck, position)

    def _recheck(self, position: int) -> None:
        if position > self.position:
            self._wake.set()

    def subscribe(
        self, *, conflate: bool = False, on_overflow: Callable[[], Awaitable[Any]] | None = None
    ) -> Subscriber:
        """A new subscriber that receives every event appended from now on."""
        subscriber = Subscriber(self.buffer, conflate=conflate, on_overflow=on_overflow)
        self.subscribers.add(subscriber)
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        """Stop delivering to `subscriber`."""
        self.subscribers.discard(subscriber)

    async def _follow(self) -> None:
        while True:
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a
            # cancellation that arrives as the wait completes, and stop() hangs.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.poll_seconds):
                    await self._wake.wait()
            self._wake.clear()
            try:
                await self.pump()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("feed: reading the log failed; retrying", exc_info=True)
                await asyncio.sleep(min(self.poll_seconds, 1.0))

    async def pump(self) -> None:
        """Deliver everything after `position` to every subscriber, in order."""
        async with self.engine.connect() as conn:
            if not self.subscribers:
                # Nobody to deliver to: just keep up with the end of the log,
                # unless someone subscribed while we looked (then deliver as usual).
                row = (
                    await conn.execute(
                        sa.select(projection_state.c.position, projection_state.c.last_occurred_at).where(
                            projection_state.c.name == SERVER_LIST
                        )
                    )
                ).one()
                if not self.subscribers:
                    if row.position > self.position and row.last_occurred_at is not None and self.caught_up:
                        self.caught_up(utc(row.last_occurred_at))
                    self.position = max(self.position, int(row.position))
                    return
            while True:
                batch = await store.read(conn, after=self.position, limit=BATCH)
                if not batch:
                    return
                self.position = batch[-1].position
                if self.caught_up is not None:
                    self.caught_up(batch[-1].occurred_at)
                for subscriber in list(self.subscribers):
                    subscriber.push(batch)
                if len(batch) < BATCH:
                    return

    async def _listen(self) -> None:
        backoff = 0.2
        while True:
            connection = None
            try:
                # No command timeout: this connection only waits for notifications.
                connection = await connect_outside_pool(self.engine, FEED_NAME, command_timeout=None)
                lost = asyncio.Event()
                connection.add_termination_listener(lambda _c, lost=lost: lost.set())
                await connection.add_listener(CHANNEL, lambda *args: self._notified(args[-1]))
                self.listening = True
                backoff = 0.2
                self._wake.set()  # catch up with whatever was committed while we were away
                while not lost.is_set():
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(5):
                            await lost.wait()
                    if not lost.is_set():
                        await connection.execute("SELECT 1", timeout=5)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.info("feed: listener connection lost; reconnecting", exc_info=True)
            finally:
                self.listening = False
                if connection is not None:
                    with contextlib.suppress(Exception):
                        await connection.close(timeout=2)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 5.0)
