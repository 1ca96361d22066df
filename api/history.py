"""Read resolvers over the log: the audit history and the list as it was."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import strawberry
from strawberry.types import Info
from strawberry.types.nodes import SelectedField

from api.context import Context, IsAdmin
from api.errors import bad_user_input
from api.event_types import EventConnection, EventEdge, EventFilter, PageInfo, from_recorded
from api.listed import listed
from api.types import MailServerList
from events import audit, store
from events.application.history import parse_cursor
from events.audit import MAX_PAGE, LogFilter

FROM_RECORDS = True
"""Build the list as it was straight from the fold's records (tests compare it with the domain's way)."""


def _log_filter(filter: EventFilter | None) -> LogFilter:
    if filter is None:
        return LogFilter()
    return LogFilter(
        types=filter.types,
        stream_id=None if filter.stream_id is None else str(filter.stream_id),
        actor=filter.actor,
        since=filter.from_,
        until=filter.to,
    )


async def _position(info: Info[Context, Any], cursor: str) -> int:
    position = parse_cursor(cursor)
    if position is not None:
        async with info.context.services.engine.connect() as conn:
            if await store.exists(conn, position):
                return position
    raise bad_user_input(f"Unknown position {cursor!r}.")


def _given(info: Info[Context, Any], argument: str) -> bool:
    """Whether the query itself set `argument` (a default does not count)."""
    fields = [field for field in info.selected_fields if isinstance(field, SelectedField)]
    return any(field.arguments.get(argument) is not None for field in fields)


@strawberry.type
class HistoryQueries:
    """The admin's reads over the log: the audit history and the list as it was."""

    @strawberry.field(
        permission_classes=[IsAdmin],
        description="Admin: the audit log, forward with first/after, backward with last/before; edges oldest first.",
    )
    async def events(
        self,
        info: Info[Context, Any],
        filter: Annotated[EventFilter | None, strawberry.argument(description="Which events.")] = None,
        first: Annotated[
            int | None, strawberry.argument(description=f"Forward: how many events, 1..{MAX_PAGE}.")
        ] = 100,
        after: Annotated[str | None, strawberry.argument(description="Forward: events after this cursor.")] = None,
        last: Annotated[
            int | None, strawberry.argument(description=f"Backward: the newest this many events, 1..{MAX_PAGE}.")
        ] = None,
        before: Annotated[str | None, strawberry.argument(description="Backward: events below this cursor.")] = None,
    ) -> EventConnection:
        """A page of matching events, oldest first, read forward or backward."""
        backward = last is not None
        if backward and _given(info, "first"):
            raise bad_user_input("Give first or last, not both.")
        if after is not None and before is not None:
            raise bad_user_input("Give after or before, not both.")
        size = last if backward else first
        if size is None or not 1 <= size <= MAX_PAGE:
            raise bad_user_input(f"{'last' if backward else 'first'} must be between 1 and {MAX_PAGE}.")
        start = 0 if after is None else await _position(info, after)
        end = None if before is None else await _position(info, before)
        wanted = _log_filter(filter)
        async with info.context.services.engine.connect() as conn:
            page = await audit.page(conn, wanted, limit=size + 1, after=start, before=end, newest=backward)
            if backward:
                more_before, shown = len(page) > size, page[-size:]
                more_after = end is not None and await audit.any_after(conn, wanted, end - 1)
            else:
                more_after, shown = len(page) > size, page[:size]
                more_before = start > 0 and await audit.any_before(conn, wanted, start + 1)
        edges = [EventEdge(cursor=str(e.position), node=from_recorded(e)) for e in shown]
        return EventConnection(
            edges=edges,
            page_info=PageInfo(
                has_next_page=more_after,
                end_cursor=edges[-1].cursor if edges else None,
                has_previous_page=more_before,
                start_cursor=edges[0].cursor if edges else None,
            ),
        )

    @strawberry.field(permission_classes=[IsAdmin], description="Admin: the list as it was then.")
    async def mail_servers_as_of(
        self,
        info: Info[Context, Any],
        position: Annotated[str | None, strawberry.argument(description="Just after the event at this cursor.")] = None,
        at: Annotated[
            datetime | None, strawberry.argument(description="At this time: every event with occurredAt <= at.")
        ] = None,
    ) -> MailServerList:
        """The list just after the event at `position`, or at time `at`."""
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
            return MailServerList.from_domain(fold.server_list())
        return listed(fold)
