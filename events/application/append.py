"""Writing a planned batch in one transaction: on PostgreSQL one call of the
mailreg_append function (migration 0005) over the raw asyncpg connection; on
SQLite statement by statement under BEGIN IMMEDIATE."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg
import orjson
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.events import Event, EventMeta
from domain.state import Fold
from events import projections, store
from events.application.batch import KeyRef, Plan
from events.serialization import JsonDict, from_payload
from events.tables import SERVER_LIST, events, idempotency_keys


class StaleError(Exception):
    """The batch was decided on out-of-date knowledge; nothing of it was written.
    `streams`: the streams whose versions were guessed, when one of those was wrong."""

    def __init__(self, reason: str, streams: Sequence[str] = ()) -> None:
        super().__init__(reason)
        self.streams = list(streams)


_APPEND = "SELECT mailreg_append($1, $2::jsonb)"
_KEYS = (
    "SELECT actor, key, request_hash, response FROM idempotency_keys "
    "WHERE (actor, key) IN (SELECT * FROM unnest($1::text[], $2::text[]))"
)
_LOCK = "SELECT position FROM projection_state WHERE name = $1 FOR UPDATE"
_BETWEEN = (
    "SELECT stream_id, stream_version, type, schema_version, data, occurred_at FROM events "
    "WHERE position > $1 AND position <= $2 ORDER BY position"
)
_VERSIONS = "SELECT stream_id, max(stream_version) FROM events WHERE stream_id = ANY($1::text[]) GROUP BY stream_id"


def _read_model_changes(plan: Plan) -> tuple[list[dict[str, Any]], list[str]]:
    """(rows to upsert, ids to delete first). A row whose code changed is
    deleted and inserted again, so swaps of codes inside one batch never meet
    the unique key half-way."""
    before, after = plan.start.server_list, plan.after
    if plan.reshaped:
        was = {sid: n for n, sid in enumerate(before.order, start=1)}
        ids = [
            (sid, n)
            for n, sid in enumerate(after.order, start=1)
            if was.get(sid) != n or before.servers.get(sid) is not after.servers[sid]
        ]
        gone = [sid for sid in before.order if sid not in after.servers]
    else:
        ids = [(sid, after.position_of(sid)) for sid in plan.touched if sid in after.servers]
        gone = []
    rows = [projections.server_row(after.servers[sid], n) for sid, n in ids]
    recoded = [
        sid
        for sid, _ in ids
        if (old := before.servers.get(sid)) is not None and old.settings.code != after.servers[sid].settings.code
    ]
    return rows, gone + recoded


async def commit_postgres(conn: asyncpg.Connection, plan: Plan) -> list[int]:
    """Write the batch in one statement (its own transaction). Raises
    StaleError when the log moved, a stream version or a key was taken meanwhile."""
    rows, replace = _read_model_changes(plan)
    links = [{"stream_id": s, "event": n} for n, step in enumerate(plan.steps, start=1) for s in step.links]
    batch = {
        "events": [step.row for step in plan.steps],
        "rows": rows,
        "replace": replace,
        "links": links,
        "keys": plan.keys,
        "list_version": plan.after.list_version,
        "last_occurred_at": plan.occurred_at,
    }
    try:
        positions: list[int] | None = await conn.fetchval(_APPEND, plan.start.position, orjson.dumps(batch).decode())
    except asyncpg.UniqueViolationError as error:
        # Another instance appended to a stream we thought was new or deleted,
        # or stored the same idempotency key: decide again on what is there now.
        guessed = unknown_streams(plan) if error.constraint_name == "uq_events_stream_version" else []
        raise StaleError(error.constraint_name or "unique", guessed) from error
    if positions is None:
        raise StaleError("the log moved")
    return positions


async def stored_keys_postgres(conn: asyncpg.Connection, refs: Sequence[KeyRef]) -> dict[KeyRef, tuple[str, JsonDict]]:
    """The stored replies for these (actor, key) pairs."""
    if not refs:
        return {}
    found = await conn.fetch(_KEYS, [a for a, _ in refs], [k for _, k in refs])
    return {(r[0], r[1]): (r[2], json.loads(r[3]) if isinstance(r[3], str) else r[3]) for r in found}


async def versions_postgres(conn: asyncpg.Connection, streams: Sequence[str]) -> dict[str, int]:
    """The newest version of each of these streams that has events."""
    return {r[0]: int(r[1]) for r in await conn.fetch(_VERSIONS, list(streams))} if streams else {}


async def lock_postgres(conn: asyncpg.Connection) -> int:
    """Take the log's write lock inside the caller's transaction; the position it guards."""
    position: int = await conn.fetchval(_LOCK, SERVER_LIST)
    return position


async def events_between(conn: asyncpg.Connection, after: int, upto: int) -> list[tuple[str, int, Event, datetime]]:
    """(stream, version, event, time) of the log's events after `after` up to `upto`, in order."""
    rows = await conn.fetch(_BETWEEN, after, upto)
    return [
        (r[0], r[1], from_payload(r[2], r[3], json.loads(r[4]) if isinstance(r[4], str) else r[4]), r[5]) for r in rows
    ]


async def stored_keys_sql(conn: AsyncConnection, refs: Sequence[KeyRef]) -> dict[KeyRef, tuple[str, JsonDict]]:
    found: dict[KeyRef, tuple[str, JsonDict]] = {}
    for actor, key in refs:
        row = (
            await conn.execute(
                sa.select(idempotency_keys.c.request_hash, idempotency_keys.c.response).where(
                    idempotency_keys.c.actor == actor, idempotency_keys.c.key == key
                )
            )
        ).first()
        if row is not None:
            found[(actor, key)] = (row.request_hash, row.response)
    return found


async def versions_sql(conn: AsyncConnection, streams: Sequence[str]) -> dict[str, int]:
    query = (
        sa.select(events.c.stream_id, sa.func.max(events.c.stream_version))
        .where(events.c.stream_id.in_(list(streams)))
        .group_by(events.c.stream_id)
    )
    return {r[0]: int(r[1]) for r in await conn.execute(query)} if streams else {}


async def commit_sql(conn: AsyncConnection, plan: Plan) -> list[int]:
    """Write the batch statement by statement inside events.database.write_transaction."""
    positions: list[int] = []
    fold = Fold(plan.start.server_list)
    for step in plan.steps:
        try:
            position = (await conn.execute(events.insert().returning(events.c.position), step.row)).scalar_one()
        except IntegrityError as error:
            raise StaleError(step.row["stream_id"]) from error
        positions.append(position)
        before = fold.freeze()
        fold.apply(step.event, EventMeta(stream_version=step.row["stream_version"], occurred_at=plan.occurred_at))
        await projections.project(conn, step.event, before, fold.freeze())
        await store.link(conn, position, step.links)
    if positions:
        await projections.save_checkpoint(
            conn, positions[-1], plan.after.list_version, notify=True, last_occurred_at=plan.occurred_at
        )
    if plan.keys:
        await conn.execute(idempotency_keys.insert(), plan.keys)
    return positions


def unknown_streams(plan: Plan) -> list[str]:
    """Streams of the batch whose version came from the cache or was taken as new."""
    live = plan.start.server_list.servers
    return sorted({s.row["stream_id"] for s in plan.steps if s.row["stream_id"] not in live})
