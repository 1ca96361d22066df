"""The append-only event store: append to a stream, read a stream or the whole log."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.events import Event, EventMeta
from events.serialization import JsonDict, from_payload, to_payload, utc
from events.tables import event_links, events


class ConcurrencyError(Exception):
    """Another writer appended to the stream first: the expected version is stale."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordedEvent:
    """One stored event: its place in the log and its stream, the payload, and who and when."""

    position: int
    stream_id: str
    stream_version: int
    type: str
    schema_version: int
    data: JsonDict
    actor: str
    correlation_id: str | None
    occurred_at: datetime

    @property
    def event(self) -> Event:
        """The domain event, upcast from the stored payload."""
        return from_payload(self.type, self.schema_version, self.data)

    @property
    def meta(self) -> EventMeta:
        """What the fold needs from the store: stream version and time."""
        return EventMeta(stream_version=self.stream_version, occurred_at=self.occurred_at)


@dataclass(frozen=True, slots=True, kw_only=True)
class Metadata:
    """Who appends, under which request, and when."""

    actor: str
    correlation_id: str | None
    occurred_at: datetime


async def stream_version(conn: AsyncConnection, stream_id: str) -> int:
    """How many events the stream holds (0 for a new stream)."""
    query = sa.select(sa.func.coalesce(sa.func.max(events.c.stream_version), 0)).where(events.c.stream_id == stream_id)
    return int((await conn.execute(query)).scalar_one())


async def append(
    conn: AsyncConnection,
    stream_id: str,
    expected_version: int | None,
    new_events: Sequence[Event],
    metadata: Metadata,
) -> list[RecordedEvent]:
    """Append events to a stream whose current version is `expected_version`
    (None: whatever it is). Raises ConcurrencyError when it is not.

    Call inside events.database.write_transaction: the lock held there is what
    keeps positions in commit order."""
    version = await stream_version(conn, stream_id) if expected_version is None else expected_version
    rows: list[dict[str, Any]] = []
    for event in new_events:
        version += 1
        name, schema_version, data = to_payload(event)
        rows.append(
            {
                "stream_id": stream_id,
                "stream_version": version,
                "type": name,
                "schema_version": schema_version,
                "data": data,
                "actor": metadata.actor,
                "correlation_id": metadata.correlation_id,
                "occurred_at": utc(metadata.occurred_at),
            }
        )
    recorded = []
    try:
        for row in rows:
            position = (await conn.execute(events.insert().returning(events.c.position), row)).scalar_one()
            recorded.append(RecordedEvent(position=position, **row))
    except IntegrityError as error:
        # The unique (stream_id, stream_version) key: the transaction is lost anyway.
        raise ConcurrencyError(stream_id) from error
    return recorded


def recorded(row: sa.Row[Any]) -> RecordedEvent:
    """The recorded event an `events` row holds."""
    return RecordedEvent(
        position=row.position,
        stream_id=row.stream_id,
        stream_version=row.stream_version,
        type=row.type,
        schema_version=row.schema_version,
        data=row.data,
        actor=row.actor,
        correlation_id=row.correlation_id,
        occurred_at=utc(row.occurred_at),
    )


async def load(conn: AsyncConnection, stream_id: str) -> list[RecordedEvent]:
    """One stream's events in version order."""
    query = events.select().where(events.c.stream_id == stream_id).order_by(events.c.stream_version)
    return [recorded(row) for row in (await conn.execute(query)).all()]


async def read(
    conn: AsyncConnection,
    *,
    after: int = 0,
    limit: int | None = None,
    until: int | None = None,
    before: int | None = None,
    where: Sequence[sa.ColumnElement[bool]] = (),
    newest: bool = False,
) -> list[RecordedEvent]:
    """Events of the whole log after position `after` (up to `until`, below
    `before`), oldest first; `limit` keeps the oldest, or with `newest` the newest."""
    order = events.c.position.desc() if newest else events.c.position
    query = events.select().where(events.c.position > after, *where).order_by(order)
    if until is not None:
        query = query.where(events.c.position <= until)
    if before is not None:
        query = query.where(events.c.position < before)
    if limit is not None:
        query = query.limit(limit)
    rows = [recorded(row) for row in (await conn.execute(query)).all()]
    return rows[::-1] if newest else rows


async def last_position(conn: AsyncConnection) -> int:
    """The newest event's position, 0 for an empty log."""
    return int((await conn.execute(sa.select(sa.func.coalesce(sa.func.max(events.c.position), 0)))).scalar_one())


async def exists(conn: AsyncConnection, position: int) -> bool:
    """Whether an event is stored at `position`."""
    query = sa.select(events.c.position).where(events.c.position == position)
    return (await conn.execute(query)).first() is not None


async def link(conn: AsyncConnection, position: int, stream_ids: Sequence[str]) -> None:
    """Record that the event at `position` touched these streams too."""
    if stream_ids:
        await conn.execute(event_links.insert(), [{"stream_id": s, "position": position} for s in stream_ids])


CHANNEL = "mailreg_events"
