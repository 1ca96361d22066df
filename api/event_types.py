"""GraphQL types of the event log."""

from __future__ import annotations

from datetime import datetime
from typing import Any, assert_never

import strawberry
from strawberry.scalars import JSON

from api.types import MailServer
from domain import events
from domain.model import Server
from events.serialization import UnreadablePayloadError, upcast
from events.store import RecordedEvent


@strawberry.interface(description="One event of the log, as every event type shows it.")
class DomainEvent:
    """One recorded event of the log, as every event type shows it."""

    position: str = strawberry.field(description="Global, opaque, strictly increasing, commit-ordered cursor.")
    stream_id: strawberry.ID = strawberry.field(
        description="The server id, or the list stream's id for list-wide events."
    )
    stream_version: int = strawberry.field(description="The event's number within its stream, from 1.")
    type: str = strawberry.field(
        description="ServerAdded, ServerChanged, ServersReordered, ServerDeleted or AllServersDeleted."
    )
    occurred_at: datetime = strawberry.field(description="When the event was appended.")
    actor: str = strawberry.field(description="Subject of the token that made the change.")
    correlation_id: str | None = strawberry.field(description="From the request (X-Request-ID) when given.")
    data: JSON = strawberry.field(description="The event's payload as stored.")


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


@strawberry.type(description="A server was added.")
class ServerAdded(DomainEvent):
    """A server was added; `server` is it as added."""

    server: MailServer = strawberry.field(description="The server as added.")


@strawberry.type(description="One setting a ServerChanged event changed.")
class FieldChange:
    """One setting a ServerChanged event changed, by its dotted API name."""

    field: str = strawberry.field(description='Dotted path, e.g. "outgoing.port".')
    before: JSON | None = strawberry.field(
        description='The value before, as the API shows it (enum names as strings, e.g. "STARTTLS").'
    )
    after: JSON | None = strawberry.field(description="The value after, shown the same way.")


@strawberry.type(description="A server's settings changed.")
class ServerChanged(DomainEvent):
    """A server's settings changed; `changes` lists each changed field."""

    changes: list[FieldChange] = strawberry.field(description="Exactly the fields whose value changed.")


@strawberry.type(description="The list's order changed.")
class ServersReordered(DomainEvent):
    """The list's order changed from `before` to `after`."""

    before: list[strawberry.ID] = strawberry.field(description="The server ids in their order before.")
    after: list[strawberry.ID] = strawberry.field(description="The server ids in their order after.")


@strawberry.type(description="A server was deleted.")
class ServerDeleted(DomainEvent):
    """A server was deleted; `code` and `name` are what it had."""

    code: str = strawberry.field(description="The code the server had.")
    name: str = strawberry.field(description="The name the server had.")


@strawberry.type(description="Every live server was deleted at once.")
class AllServersDeleted(DomainEvent):
    """Every server was deleted; `deletedIds` in list order."""

    deleted_ids: list[strawberry.ID] = strawberry.field(description="The deleted servers' ids, in list order.")


EVENT_TYPES = [ServerAdded, ServerChanged, ServersReordered, ServerDeleted, AllServersDeleted]


def _changed(entry: RecordedEvent, common: dict[str, Any]) -> ServerChanged:
    # The commonest event by far: read straight from its payload, without the domain event.
    data = upcast(entry.type, entry.schema_version, entry.data)
    try:
        changes = [FieldChange(field=c["field"], before=c["before"], after=c["after"]) for c in data["changes"]]
    except (KeyError, TypeError) as error:
        raise UnreadablePayloadError(f"ServerChanged v{entry.schema_version}: {error}") from error
    return ServerChanged(**common, changes=changes)


def from_recorded(entry: RecordedEvent) -> DomainEvent:
    """The API view of a stored event (payloads upcast on read)."""
    common = _common(entry)
    if entry.type == "ServerChanged":
        return _changed(entry, common)
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
            # strawberry.ID marks the type only: the ids go in as they are (a reorder names every server).
            return ServersReordered(**common, before=list(event.before), after=list(event.after))  # type: ignore[arg-type]
        case events.ServerDeleted():
            return ServerDeleted(**common, code=event.code, name=event.name)
        case events.AllServersDeleted():
            return AllServersDeleted(**common, deleted_ids=list(event.server_ids))  # type: ignore[arg-type]
        case _:
            assert_never(event)


@strawberry.type(description="Where a page of the log stands.")
class PageInfo:
    """Where a page of the log stands: whether matching events lie beyond either end."""

    has_next_page: bool = strawberry.field(description="Whether matching events exist after endCursor.")
    end_cursor: str | None = strawberry.field(description="The last edge's cursor; null on an empty page.")
    has_previous_page: bool = strawberry.field(description="Whether matching events exist below startCursor.")
    start_cursor: str | None = strawberry.field(description="The first edge's cursor; null on an empty page.")


@strawberry.type(description="One event of a page.")
class EventEdge:
    """One event of a page and its cursor (its position)."""

    cursor: str = strawberry.field(description="Equals the node's position.")
    node: DomainEvent = strawberry.field(description="The event.")


@strawberry.type(description="A page of the log.")
class EventConnection:
    """A page of the log: edges oldest first, and where the page stands."""

    edges: list[EventEdge] = strawberry.field(description="The page's events, oldest first.")
    page_info: PageInfo = strawberry.field(description="Where the page stands.")


@strawberry.input(description="Which events to return; unset parts match everything.")
class EventFilter:
    """Which events the log query returns; unset parts match everything."""

    types: list[str] | None = strawberry.field(default=None, description="Event type names to include.")
    stream_id: strawberry.ID | None = strawberry.field(
        default=None, description="One server's history: its own events and the list-wide events naming it."
    )
    actor: str | None = strawberry.field(default=None, description="Only events made by this token subject.")
    from_: datetime | None = strawberry.field(
        name="from", default=None, description="Occurred at or after (inclusive)."
    )
    to: datetime | None = strawberry.field(default=None, description="Occurred before (exclusive).")
