"""Event <-> stored payload. Each type has a schema version; older payloads are
upcast on read so that the log stays readable as payloads evolve."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, assert_never

from domain.events import (
    AllServersDeleted,
    Event,
    FieldChange,
    ServerAdded,
    ServerChanged,
    ServerDeleted,
    ServersReordered,
)
from domain.model import Scalar, Server, Settings, fields, from_fields

JsonDict = dict[str, Any]

SCHEMA_VERSIONS: dict[str, int] = {
    "ServerAdded": 1,
    "ServerChanged": 1,
    "ServersReordered": 1,
    "ServerDeleted": 1,
    "AllServersDeleted": 1,
}

# (type, from_version) -> function to the next version. Empty while every
# payload is at version 1; the first payload change adds its upcaster here.
UPCASTERS: dict[tuple[str, int], Callable[[JsonDict], JsonDict]] = {}


class UnreadablePayloadError(ValueError):
    """A stored payload whose type or schema version this code cannot read."""


def settings_to_json(settings: Settings) -> JsonDict:
    """Nested, API-shaped: {"code", "name", "oauthProvider", "outgoing": {...}, "incoming": {...}}."""
    nested: JsonDict = {}
    for key, value in fields(settings).items():
        head, _, tail = key.partition(".")
        if tail:
            nested.setdefault(head, {})[tail] = value
        else:
            nested[head] = value
    return nested


def settings_from_json(data: JsonDict) -> Settings:
    """The inverse of settings_to_json."""
    flat: dict[str, Scalar] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            flat.update({f"{key}.{k}": v for k, v in value.items()})
        else:
            flat[key] = value
    return from_fields(flat)


def to_payload(event: Event) -> tuple[str, int, JsonDict]:
    """(type name, schema version, JSON payload) for storing."""
    name = type(event).__name__
    data: JsonDict
    match event:
        case ServerAdded():
            data = {"id": event.server_id, "position": event.position, **settings_to_json(event.settings)}
            if event.created_at is not None:
                data["createdAt"] = event.created_at.isoformat()
        case ServerChanged():
            data = {
                "id": event.server_id,
                "changes": [{"field": c.field, "before": c.before, "after": c.after} for c in event.changes],
            }
        case ServersReordered():
            data = {"before": list(event.before), "after": list(event.after)}
        case ServerDeleted():
            data = {"id": event.server_id, "code": event.code, "name": event.name}
        case AllServersDeleted():
            data = {"deletedIds": list(event.server_ids)}
        case _:
            assert_never(event)
    return name, SCHEMA_VERSIONS[name], data


def upcast(type_name: str, schema_version: int, data: JsonDict) -> JsonDict:
    """A stored payload brought to its type's current schema version, or UnreadablePayloadError."""
    current = SCHEMA_VERSIONS.get(type_name)
    if current is None or schema_version > current or schema_version < 1:
        raise UnreadablePayloadError(f"{type_name} v{schema_version}")
    while schema_version < current:
        step = UPCASTERS.get((type_name, schema_version))
        if step is None:
            raise UnreadablePayloadError(f"{type_name} v{schema_version}: no upcaster")
        data = step(data)
        schema_version += 1
    return data


def from_payload(type_name: str, schema_version: int, data: JsonDict) -> Event:
    """The domain event of a stored payload, upcast to the current schema version."""
    data = upcast(type_name, schema_version, data)
    try:
        match type_name:
            case "ServerAdded":
                created = data.get("createdAt")
                body = {k: v for k, v in data.items() if k not in ("id", "createdAt", "position")}
                return ServerAdded(
                    server_id=data["id"],
                    position=data.get("position", 0),
                    settings=settings_from_json(body),
                    created_at=datetime.fromisoformat(created) if created else None,
                )
            case "ServerChanged":
                return ServerChanged(
                    server_id=data["id"],
                    changes=tuple(
                        FieldChange(field=c["field"], before=c["before"], after=c["after"]) for c in data["changes"]
                    ),
                )
            case "ServersReordered":
                return ServersReordered(before=tuple(data["before"]), after=tuple(data["after"]))
            case "ServerDeleted":
                return ServerDeleted(server_id=data["id"], code=data["code"], name=data["name"])
            case "AllServersDeleted":
                return AllServersDeleted(server_ids=tuple(data["deletedIds"]))
    except (KeyError, TypeError, ValueError) as error:
        raise UnreadablePayloadError(f"{type_name} v{schema_version}: {error}") from error
    raise UnreadablePayloadError(type_name)


def server_to_json(server: Server, position: int) -> JsonDict:
    """A server as an API payload remembers it (idempotent replies)."""
    return {
        "id": server.id,
        "position": position,
        "version": server.version,
        "createdAt": server.created_at.isoformat(),
        "updatedAt": server.updated_at.isoformat(),
        **settings_to_json(server.settings),
    }


def server_from_json(data: JsonDict) -> tuple[Server, int]:
    """The inverse of server_to_json: the server and its list position."""
    body = {k: v for k, v in data.items() if k not in ("id", "position", "version", "createdAt", "updatedAt")}
    server = Server(
        id=data["id"],
        settings=settings_from_json(body),
        version=data["version"],
        created_at=datetime.fromisoformat(data["createdAt"]),
        updated_at=datetime.fromisoformat(data["updatedAt"]),
    )
    return server, data["position"]


def utc(value: datetime) -> datetime:
    """The instant in UTC. Everything is stored and bound in UTC because SQLite
    keeps no offset (and hands back naive values); naive means UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
