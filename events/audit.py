"""The audit log read a page at a time, forward or backward, with filters."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from events import store
from events.serialization import utc
from events.store import RecordedEvent
from events.tables import event_links, events

MAX_PAGE = 500
"""The most events one page may hold, in either direction."""


@dataclass(frozen=True, slots=True, kw_only=True)
class LogFilter:
    """Which events a page holds; None matches everything."""

    types: Sequence[str] | None = None
    stream_id: str | None = None
    actor: str | None = None
    since: datetime | None = None  # inclusive
    until: datetime | None = None  # exclusive


def _conditions(filter: LogFilter) -> list[sa.ColumnElement[bool]]:
    """Every condition but the stream's, which page() handles with its indexes."""
    where: list[sa.ColumnElement[bool]] = []
    if filter.types is not None:
        where.append(events.c.type.in_(filter.types))
    if filter.actor is not None:
        where.append(events.c.actor == filter.actor)
    if filter.since is not None:
        where.append(events.c.occurred_at >= utc(filter.since))
    if filter.until is not None:
        where.append(events.c.occurred_at < utc(filter.until))
    return where


async def page(
    conn: AsyncConnection,
    filter: LogFilter,
    *,
    limit: int,
    after: int = 0,
    before: int | None = None,
    newest: bool = False,
) -> list[RecordedEvent]:
    """Up to `limit` matching events with after < position < before: the oldest
    of them, or with `newest` the newest. Oldest first either way.

    Each scan follows an index in the page's direction and stops at `limit`
    rows, so the newest page of a long log costs what it costs on a short one."""
    if filter.stream_id is None:
        where = _conditions(filter)
        return await store.read(conn, after=after, before=before, limit=limit, where=where, newest=newest)
    shape = _Shape(
        types=len(filter.types) if filter.types is not None else None,
        actor=filter.actor is not None,
        since=filter.since is not None,
        until=filter.until is not None,
        before=before is not None,
        newest=newest,
    )
    values: dict[str, object] = {"stream": filter.stream_id, "after": after, "before": before, "limit": limit}
    values.update({f"type_{n}": t for n, t in enumerate(filter.types or ())})
    values.update(actor=filter.actor, since=filter.since and utc(filter.since))
    values["until"] = filter.until and utc(filter.until)
    rows = [store.recorded(row) for row in (await conn.execute(_stream_page(shape), values)).all()]
    return rows[::-1] if newest else rows


@dataclass(frozen=True, slots=True)
class _Shape:
    """What a stream page's statement depends on, beside the values it binds."""

    types: int | None  # how many
    actor: bool
    since: bool
    until: bool
    before: bool
    newest: bool


@functools.cache
def _stream_page(shape: _Shape) -> sa.Select[Any]:
    """A server's history is its own stream plus the list-wide events linked to
    it. Two index range scans, each cut at the page size, then merged: an OR of
    both would make PostgreSQL walk the whole log by position. Built once per
    shape with bound values: a page request then constructs no SQL objects."""
    where: list[sa.ColumnElement[bool]] = []
    if shape.types is not None:
        where.append(events.c.type.in_([sa.bindparam(f"type_{n}") for n in range(shape.types)]))
    if shape.actor:
        where.append(events.c.actor == sa.bindparam("actor"))
    if shape.since:
        where.append(events.c.occurred_at >= sa.bindparam("since"))
    if shape.until:
        where.append(events.c.occurred_at < sa.bindparam("until"))
    after: sa.BindParameter[int] = sa.bindparam("after", type_=sa.BigInteger)
    limit: sa.BindParameter[int] = sa.bindparam("limit", type_=sa.Integer)
    before: sa.BindParameter[int] | None = sa.bindparam("before", type_=sa.BigInteger) if shape.before else None

    def bounds(column: sa.ColumnElement[int]) -> list[sa.ColumnElement[bool]]:
        return [column > after, *([column < before] if before is not None else [])]

    def order(column: sa.ColumnElement[int]) -> sa.ColumnElement[int]:
        return column.desc() if shape.newest else column

    own = (
        sa.select(events.c.position)
        .where(events.c.stream_id == sa.bindparam("stream"), *bounds(events.c.position), *where)
        .order_by(order(events.c.position))
        .limit(limit)
    )
    linked = (
        sa.select(event_links.c.position)
        .join(events, events.c.position == event_links.c.position)
        .where(event_links.c.stream_id == sa.bindparam("stream"), *bounds(event_links.c.position), *where)
        .order_by(order(event_links.c.position))
        .limit(limit)
    )
    both = sa.union_all(sa.select(own.subquery().c.position), sa.select(linked.subquery().c.position))
    return (
        events.select()
        .where(*bounds(events.c.position), events.c.position.in_(both))
        .order_by(order(events.c.position))
        .limit(limit)
    )


async def any_before(conn: AsyncConnection, filter: LogFilter, position: int) -> bool:
    """Whether a matching event lies below `position`."""
    return bool(await page(conn, filter, limit=1, before=position, newest=True))


async def any_after(conn: AsyncConnection, filter: LogFilter, position: int) -> bool:
    """Whether a matching event lies above `position`."""
    return bool(await page(conn, filter, limit=1, after=position))
