"""GraphQL types of the event log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry
from strawberry.scalars import JSON

from api.types import MailServer
from domain.events import ServerAdded as ServerAddedEvent
from domain.model import Server
from events.serialization import UnreadablePayloadError, upcast
from events.store import RecordedEvent


@strawberry.interface
class DomainEvent:
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
    server: MailServer


@strawberry.type
class FieldChange:
    field: str
    before: JSON | None
    after: JSON | None


@strawberry.type
class ServerChanged(DomainEvent):
    changes: list[FieldChange]


@strawberry.type
class ServersReordered(DomainEvent):
    before: list[strawberry.ID]
    after: list[strawberry.ID]


@strawberry.type
class ServerDeleted(DomainEvent):
    code: str
    name: str


@strawberry.type
class AllServersDeleted(DomainEvent):
    deleted_ids: list[strawberry.ID]


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
    event = entry.event
    match entry.type:
        case "ServerAdded":
            assert isinstance(event, ServerAddedEvent)
            server = Server(
                id=event.server_id,
                settings=event.settings,
                version=entry.stream_version,
                created_at=event.created_at or entry.occurred_at,
                updated_at=entry.occurred_at,
            )
            return ServerAdded(**common, server=MailServer.from_domain(server, event.position))
        case "ServersReordered":
            return ServersReordered(
                **common,
                before=[strawberry.ID(i) for i in event.before],  # type: ignore[union-attr]
                after=[strawberry.ID(i) for i in event.after],  # type: ignore[union-attr]
            )
        case "ServerDeleted":
            return ServerDeleted(**common, code=event.code, name=event.name)  # type: ignore[union-attr]
        case _:
            return AllServersDeleted(
                **common,
                deleted_ids=[strawberry.ID(i) for i in event.server_ids],  # type: ignore[union-attr]
            )


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type
class EventEdge:
    cursor: str
    node: DomainEvent


@strawberry.type
class EventConnection:
    edges: list[EventEdge]
    page_info: PageInfo


@strawberry.input
class EventFilter:
    types: list[str] | None = None
    stream_id: strawberry.ID | None = None
    actor: str | None = None
    from_: datetime | None = strawberry.field(name="from", default=None, description="inclusive")
    to: datetime | None = strawberry.field(default=None, description="exclusive")
