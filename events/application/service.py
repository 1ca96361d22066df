"""The write path (lock, load, decide, append, project, remember) and the
cached read path, both over one engine."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.commands import Command
from domain.decide import decide
from domain.errors import IdempotencyKeyReusedError
from domain.events import Event, stream_of
from domain.state import Fold, ServerList, touched
from events import projections, store
from events.application.catch_up import caught_up
from events.application.checkpoint import Checkpoint
from events.database import event_time, locked_checkpoint, write_transaction
from events.serialization import JsonDict
from events.store import Metadata, RecordedEvent
from events.tables import idempotency_keys

Respond = Callable[[ServerList, Sequence[Event]], JsonDict]


@dataclass(frozen=True, slots=True, kw_only=True)
class Request:
    """Who asks, and how to recognise a retry of the same request."""

    actor: str
    correlation_id: str | None = None
    idempotency_key: str | None = None
    fingerprint: JsonDict = field(default_factory=dict)

    def request_hash(self) -> str:
        """A digest of the request's fingerprint, equal for equal requests."""
        text = json.dumps(self.fingerprint, sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True, slots=True, kw_only=True)
class Outcome:
    """What a command did: the response, the events recorded, and whether it was a retry."""

    response: JsonDict
    recorded: tuple[RecordedEvent, ...]
    retried: bool


@dataclass(frozen=True, slots=True)
class CurrentList:
    """The server list as of the committed event at `position`."""

    position: int
    server_list: ServerList


class MailServerService:
    """Runs commands against the log and serves the current list."""

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        on_commit: Callable[[Sequence[RecordedEvent]], None] | None = None,
        own_connection: bool = False,
    ):
        self.engine = engine
        self._write_lock = asyncio.Lock()
        self._current: CurrentList | None = None
        self._on_commit = on_commit
        self.checkpoint = Checkpoint(engine, own_connection=own_connection)
        self._catching_up = asyncio.Lock()

    async def current(self) -> CurrentList:
        """The list as of the newest committed event (reads its own writes,
        and other instances' writes, by checking the projection's position)."""
        return await self.current_since(await self.checkpoint.position())

    async def current_since(self, position: int) -> CurrentList:
        """The current list at `position` or later (a position read after the request arrived)."""
        kept = self._current
        if kept is not None and kept.position >= position:
            return kept
        async with self._catching_up:  # one catch-up at a time; the others reuse its result
            kept = self._current
            if kept is not None and kept.position >= position:
                return kept
            current = CurrentList(*await caught_up(self.engine, (kept.position, kept.server_list) if kept else None))
            self._remember(current)
            return current

    async def close(self) -> None:
        """Release the connection the checkpoint reads use."""
        await self.checkpoint.close()

    def _remember(self, current: CurrentList) -> None:
        if self._current is None or current.position >= self._current.position:
            self._current = current

    async def execute(self, command: Command, request: Request, respond: Respond) -> Outcome:
        """Decide and append in one transaction. A rejected command raises its
        MailServerError and leaves no trace, not even its idempotency key."""
        async with self._write_lock, write_transaction(self.engine) as conn:
            if request.idempotency_key is not None:
                stored = await self._stored_reply(conn, request)
                if stored is not None:
                    return Outcome(response=stored, recorded=(), retried=True)
            position, _ = locked_checkpoint(conn)
            cached = self._current
            if cached is None or cached.position != position:
                cached = CurrentList(*await projections.load_list(conn))
            state = cached.server_list
            new_events = decide(command, state)
            metadata = Metadata(
                actor=request.actor, correlation_id=request.correlation_id, occurred_at=event_time(conn)
            )
            recorded: list[RecordedEvent] = []
            fold = Fold(state)
            for event in new_events:
                stream = stream_of(event)
                live = fold.servers.get(stream)
                expected = live.version if live is not None else None
                (entry,) = await store.append(conn, stream, expected, (event,), metadata)
                before = fold.freeze()
                fold.apply(event, entry.meta)
                await projections.project(conn, event, before, fold.freeze())
                await store.link(conn, entry.position, touched(event, before))
                recorded.append(entry)
            after = fold.freeze()
            if recorded:
                position = recorded[-1].position
                await projections.save_checkpoint(
                    conn, position, after.list_version, notify=True, last_occurred_at=metadata.occurred_at
                )
            response = respond(after, new_events)
            if request.idempotency_key is not None:
                await conn.execute(
                    idempotency_keys.insert().values(
                        actor=request.actor,
                        key=request.idempotency_key,
                        request_hash=request.request_hash(),
                        response=response,
                        created_at=metadata.occurred_at,
                    )
                )
        self._remember(CurrentList(position, after))
        if recorded and self._on_commit is not None:
            self._on_commit(recorded)
        return Outcome(response=response, recorded=tuple(recorded), retried=False)

    async def _stored_reply(self, conn: Any, request: Request) -> JsonDict | None:
        row = (
            await conn.execute(
                sa.select(idempotency_keys.c.request_hash, idempotency_keys.c.response).where(
                    idempotency_keys.c.actor == request.actor, idempotency_keys.c.key == request.idempotency_key
                )
            )
        ).first()
        if row is None:
            return None
        if row.request_hash != request.request_hash():
            raise IdempotencyKeyReusedError()
        response: JsonDict = row.response
        return response
