"""Reading stored events as plain rows, for folds over long stretches of the log.

store.read builds a RecordedEvent per row through SQLAlchemy's result
processing; a fold of a million events cannot afford that. On PostgreSQL the
rows come straight from asyncpg (one prepared keyset query, payloads as text
decoded with orjson) and the next page is asked for while the current one is
folded; on SQLite they come through SQLAlchemy Core as plain tuples."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any, NamedTuple

import orjson
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
    """One stored event with its payload decoded."""

    position: int
    stream_id: str
    stream_version: int
    type: str
    schema_version: int
    data: dict[str, Any]
    occurred_at: datetime


async def _fetch(conn: AsyncConnection, after: int, until: int, limit: int) -> list[Any]:
    if conn.dialect.name == "postgresql":
        raw = (await conn.get_raw_connection()).driver_connection
        assert raw is not None
        records: list[Any] = await raw.fetch(_KEYSET, after, until, limit)
        return records
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
        .where(events.c.position > after, events.c.position <= until)
        .order_by(events.c.position)
        .limit(limit)
    )
    return [(*r[:6], utc(r[6])) for r in (await conn.execute(query)).all()]


def _decoded(records: list[Any]) -> list[StoredRow]:
    loads = orjson.loads
    return [
        StoredRow(r[0], r[1], r[2], r[3], r[4], loads(r[5]) if isinstance(r[5], str) else r[5], r[6]) for r in records
    ]


async def read_rows(conn: AsyncConnection, *, after: int, until: int | None = None, limit: int) -> list[StoredRow]:
    """Up to `limit` events after position `after` (and at most `until`), oldest first."""
    return _decoded(await _fetch(conn, after, MAX_POSITION if until is None else until, limit))


async def stream_rows(
    conn: AsyncConnection, *, after: int, until: int | None = None, batch: int
) -> AsyncIterator[list[StoredRow]]:
    """Every event after `after` (up to `until`) in pages of `batch`, oldest
    first; the next page is being read while the caller works on this one."""
    bound = MAX_POSITION if until is None else until
    pending: asyncio.Task[list[Any]] | None = asyncio.ensure_future(_fetch(conn, after, bound, batch))
    try:
        while pending is not None:
            records = await pending
            pending = None
            if not records:
                return
            if len(records) == batch:
                pending = asyncio.ensure_future(_fetch(conn, records[-1][0], bound, batch))
                await asyncio.sleep(0)  # let it send its query before the caller keeps the loop busy
            yield _decoded(records)
    finally:
        if pending is not None:
            # The connection must be idle before it is handed back.
            with contextlib.suppress(Exception):
                await pending
