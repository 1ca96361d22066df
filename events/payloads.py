"""Reading stored events as plain rows, for folds over long stretches of the log.

store.read builds a RecordedEvent per row through SQLAlchemy's result
processing; a fold of a million events cannot afford that. On PostgreSQL the
rows come straight from asyncpg (one prepared keyset query, JSON decoded in
one pass); on SQLite through SQLAlchemy Core as plain tuples."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from events.serialization import utc
from events.tables import events

_KEYSET = (
    "SELECT position, stream_id, stream_version, type, schema_version, data::text, occurred_at "
    "FROM events WHERE position > $1 AND position <= $2 ORDER BY position LIMIT $3"
)
MAX_POSITION = 2**63 - 1


class StoredRow(NamedTuple):
    position: int
    stream_id: str
    stream_version: int
    type: str
    schema_version: int
    data: dict[str, Any]
    occurred_at: datetime


async def read_rows(conn: AsyncConnection, *, after: int, until: int | None = None, limit: int) -> list[StoredRow]:
    """Up to `limit` events after position `after` (and at most `until`), oldest first."""
    bound = MAX_POSITION if until is None else until
    if conn.dialect.name == "postgresql":
        raw = (await conn.get_raw_connection()).driver_connection
        assert raw is not None
        loads = json.loads
        return [
            StoredRow(r[0], r[1], r[2], r[3], r[4], loads(r[5]), r[6])
            for r in await raw.fetch(_KEYSET, after, bound, limit)
        ]
    query = (
        sa.select(
            events.c.position,
            events.c.stream_id,
            events.c.stream_version,
            events.c.type,
            events.c.schema_version,
            events.c.data,
            events.c.occurred_at,
        )
        .where(events.c.position > after, events.c.position <= bound)
        .order_by(events.c.position)
        .limit(limit)
    )
    return [StoredRow(r[0], r[1], r[2], r[3], r[4], r[5], utc(r[6])) for r in await conn.execute(query)]
