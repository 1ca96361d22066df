"""Read resolvers over the log: the audit history and the list as it was."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
import strawberry
from sqlalchemy.ext.asyncio import AsyncConnection
from strawberry.types import Info

from api.context import Context, IsAdmin
from api.errors import bad_user_input
from api.event_types import EventConnection, EventEdge, EventFilter, PageInfo, from_recorded
from api.listed import listed
from api.types import MailServerList
from events import store
from events.history import parse_cursor
from events.serialization import utc
from events.tables import event_links, events

MAX_PAGE = 500
FROM_RECORDS = True
"""Build the list as it was straight from the fold's records (tests compare it with the domain's way)."""


def _conditions(filter: EventFilter | None) -> list[sa.ColumnElement[bool]]:
    """Every condition but the stream's, which _page handles with its indexes."""
    if filter is None:
        return []
    where: list[sa.ColumnElement[bool]] = []
    if filter.types is not None:
        where.append(events.c.type.in_(filter.types))
    if filter.actor is not None:
        where.append(events.c.actor == filter.actor)
    if filter.from_ is not None:
        where.append(events.c.occurred_at >= utc(filter.from_))
    if filter.to is not None:
        where.append(events.c.occurred_at < utc(filter.to))
    return where


async def _page(conn: AsyncConnection, filter: EventFilter | None, after: int, limit: int) -> list[store.RecordedEvent]:
    where = _conditions(filter)
    if filter is None or filter.stream_id is None:
        return await store.read(conn, after=after, limit=limit, where=where)
    # A server's history is its own stream plus the list-wide events linked to
    # it. Two index range scans, each cut at the page size, then merged: an OR
    # of both would make PostgreSQL walk the whole log by position.
    stream = str(filter.stream_id)
    own = (
        sa.select(events.c.position)
        .where(events.c.stream_id == stream, events.c.position > after, *where)
        .order_by(events.c.position)
        .limit(limit)
    )
    linked = (
        sa.select(event_links.c.position)
        .join(events, events.c.position == event_links.c.position)
        .where(event_links.c.stream_id == stream, event_links.c.position > after, *where)
        .order_by(event_links.c.position)
        .limit(limit)
    )
    both = sa.union_all(sa.select(own.subquery().c.position), sa.select(linked.subquery().c.position))
    # One statement: the page's rows straight from the merged positions.
    return await store.read(conn, after=after, limit=limit, where=[events.c.position.in_(both)])


async def _position(info: Info[Context, Any], cursor: str) -> int:
    position = parse_cursor(cursor)
    if position is not None:
        async with info.context.services.engine.connect() as conn:
            if await store.exists(conn, position):
                return position
    raise bad_user_input(f"Unknown position {cursor!r}.")


@strawberry.type
class HistoryQueries:
    @strawberry.field(permission_classes=[IsAdmin], description="Admin: the audit log, oldest first.")
    async def events(
        self,
        info: Info[Context, Any],
        filter: EventFilter | None = None,
        first: int | None = 100,
        after: str | None = None,
    ) -> EventConnection:
        if first is None or not 1 <= first <= MAX_PAGE:
            raise bad_user_input(f"first must be between 1 and {MAX_PAGE}.")
        start = 0 if after is None else await _position(info, after)
        async with info.context.services.engine.connect() as conn:
            page = await _page(conn, filter, start, first + 1)
        edges = [EventEdge(cursor=str(e.position), node=from_recorded(e)) for e in page[:first]]
        return EventConnection(
            edges=edges,
            page_info=PageInfo(has_next_page=len(page) > first, end_cursor=edges[-1].cursor if edges else None),
        )

    @strawberry.field(permission_classes=[IsAdmin], description="Admin: the list as it was then.")
    async def mail_servers_as_of(
        self, info: Info[Context, Any], position: str | None = None, at: datetime | None = None
    ) -> MailServerList:
        if (position is None) == (at is None):
            raise bad_user_input("Give exactly one of position and at.")
        history = info.context.services.history
        if position is not None:
            fold = await history.fold_at(position)
            if fold is None:
                raise bad_user_input(f"Unknown position {position!r}.")
        else:
            assert at is not None
            fold = await history.fold_at_time(at)
        if not FROM_RECORDS:
            return MailServerList.from_domain(fold.registry())
        return listed(fold)
