"""GraphQL types of the event log."""

from __future__ import annotations

from datetime import datetime
from typing import Any, assert_never

import strawberry
from strawberry.scalars import JSON

from api.types import MailServer
from domain import events
from domain.model import Server
from events.store import RecordedEvent


@strawberry.interface
class DomainEvent:
    """One recorded event of the log, as every event type shows it."""

    position: str
    stream_id: strawberry.ID
    stream_version: int
    type: str
    occurred_at: datetime
    actor: str
    correlation_id: str | None
    data: JSON


def _common(entry: RecordedEvent) -> dict[str, Any]:
    return {
        "position": str(entry.position),
        "stream_id": strawberry.ID(entry.stream_id),
        "stream_version": entry.stream_version,
        "type": entry.type,
        "occurred_at": entry.occurred_at,
        "actor": entry.actor,
        "correlation_id": entry.correlation_id,
        "data": entry.data,
    }


@strawberry.type
class ServerAdded(DomainEvent):
    """A server was added; `server` is it as added."""

    server: MailServer


@strawberry.type
class FieldChange:
    """One setting a ServerChanged event changed, by its dotted API name."""

    field: str
    before: JSON | None
    after: JSON | None


@strawberry.type
class ServerChanged(DomainEvent):
    """A server's settings changed; `changes` lists each changed field."""

    changes: list[FieldChange]


@strawberry.type
class ServersReordered(DomainEvent):
    """The list's order changed from `before` to `after`."""

    before: list[strawberry.ID]
    after: list[strawberry.ID]


@strawberry.type
class ServerDeleted(DomainEvent):
    """A server was deleted; `code` and `name` are what it had."""

    code: str
    name: str


@strawberry.type
class AllServersDeleted(DomainEvent):
    """Every server was deleted; `deletedIds` in list order."""

    deleted_ids: list[strawberry.ID]


EVENT_TYPES = [ServerAdded, ServerChanged, ServersReordered, ServerDeleted, AllServersDeleted]


def from_recorded(entry: RecordedEvent) -> DomainEvent:
    """The API view of a stored event (payloads upcast on read)."""
    common = _common(entry)
    match event := entry.event:
        case events.ServerAdded():
            server = Server(
                id=event.server_id,
                settings=event.settings,
                version=entry.stream_version,
                created_at=event.created_at or entry.occurred_at,
                updated_at=entry.occurred_at,
            )
            return ServerAdded(**common, server=MailServer.from_domain(server, event.position))
        case events.ServerChanged():
            changes = [FieldChange(field=c.field, before=JSON(c.before), after=JSON(c.after)) for c in event.changes]
            return ServerChanged(**common, changes=changes)
        case events.ServersReordered():
            return ServersReordered(
                **common,
                before=[strawberry.ID(i) for i in event.before],
                after=[strawberry.ID(i) for i in event.after],
            )
        case events.ServerDeleted():
            return ServerDeleted(**common, code=event.code, name=event.name)
        case events.AllServersDeleted():
            return AllServersDeleted(**common, deleted_ids=[strawberry.ID(i) for i in event.server_ids])
        case _:
            assert_never(event)


@strawberry.type
class PageInfo:
    """Where a page of the log stands: whether matching events lie beyond either end."""

    has_next_page: bool
    end_cursor: str | None
    has_previous_page: bool
    start_cursor: str | None


@strawberry.type
class EventEdge:
    """One event of a page and its cursor (its position)."""

    cursor: str
    node: DomainEvent


@strawberry.type
class EventConnection:
    """A page of the log: edges oldest first, and where the page stands."""

    edges: list[EventEdge]
    page_info: PageInfo


@strawberry.input
class EventFilter:
    """Which events the log query returns; unset parts match everything."""

    types: list[str] | None = None
    stream_id: strawberry.ID | None = None
    actor: str | None = None
    from_: datetime | None = strawberry.field(name="from", default=None, description="inclusive")
    to: datetime | None = strawberry.field(default=None, description="exclusive")
