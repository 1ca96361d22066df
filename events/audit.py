"""The audit log read a page at a time, forward or backward, with filters."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

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


def _positions(column: sa.ColumnElement[int], after: int, before: int | None) -> list[sa.ColumnElement[bool]]:
    bounds = [column > after]
    if before is not None:
        bounds.append(column < before)
    return bounds


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
    where = _conditions(filter)
    if filter.stream_id is None:
        return await store.read(conn, after=after, before=before, limit=limit, where=where, newest=newest)
    # A server's history is its own stream plus the list-wide events linked to
    # it. Two index range scans, each cut at the page size, then merged: an OR
    # of both would make PostgreSQL walk the whole log by position.
    stream = filter.stream_id
    own = (
        sa.select(events.c.position)
        .where(events.c.stream_id == stream, *_positions(events.c.position, after, before), *where)
        .order_by(events.c.position.desc() if newest else events.c.position)
        .limit(limit)
    )
    linked = (
        sa.select(event_links.c.position)
        .join(events, events.c.position == event_links.c.position)
        .where(event_links.c.stream_id == stream, *_positions(event_links.c.position, after, before), *where)
        .order_by(event_links.c.position.desc() if newest else event_links.c.position)
        .limit(limit)
    )
    both = sa.union_all(sa.select(own.subquery().c.position), sa.select(linked.subquery().c.position))
    # One statement: the page's rows straight from the merged positions.
    where = [events.c.position.in_(both)]
    return await store.read(conn, after=after, before=before, limit=limit, where=where, newest=newest)


async def any_before(conn: AsyncConnection, filter: LogFilter, position: int) -> bool:
    """Whether a matching event lies below `position`."""
    return bool(await page(conn, filter, limit=1, before=position, newest=True))


async def any_after(conn: AsyncConnection, filter: LogFilter, position: int) -> bool:
    """Whether a matching event lies above `position`."""
    return bool(await page(conn, filter, limit=1, after=position))
