"""Domain events: what happened, in the past tense, named as the contract says."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import assert_never

from domain.model import Scalar, Settings

LIST_STREAM = "mail-server-list"
"""The stream of list-wide events (reorder, delete all)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class FieldChange:
    """One setting's change, by dotted API name, with API-shaped values."""

    field: str
    before: Scalar
    after: Scalar


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerAdded:
    """A server was added at `position` (1-based) with these settings."""

    server_id: str
    settings: Settings
    # Set when a restore brings a server back: it keeps its first creation time.
    created_at: datetime | None = None
    # Where it went in the list (always the end); kept so history can show it.
    position: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerChanged:
    """Some of a server's settings changed."""

    server_id: str
    changes: tuple[FieldChange, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class ServersReordered:
    """The list's order went from `before` to `after`."""

    before: tuple[str, ...]
    after: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerDeleted:
    """A server was deleted; `code` and `name` are what it had."""

    server_id: str
    code: str
    name: str


@dataclass(frozen=True, slots=True, kw_only=True)
class AllServersDeleted:
    """Every server was deleted; `server_ids` in list order."""

    server_ids: tuple[str, ...]


Event = ServerAdded | ServerChanged | ServersReordered | ServerDeleted | AllServersDeleted

EVENT_TYPES: tuple[type[Event], ...] = (
    ServerAdded,
    ServerChanged,
    ServersReordered,
    ServerDeleted,
    AllServersDeleted,
)


def stream_of(event: Event) -> str:
    """The stream an event belongs to: its server's, or the list's."""
    match event:
        case ServerAdded() | ServerChanged() | ServerDeleted():
            return event.server_id
        case ServersReordered() | AllServersDeleted():
            return LIST_STREAM
        case _:
            assert_never(event)


def changes_membership_or_order(event: Event) -> bool:
    """Whether the event moves the list version (every event but ServerChanged)."""
    return not isinstance(event, ServerChanged)


@dataclass(frozen=True, slots=True, kw_only=True)
class EventMeta:
    """What the store adds when it records an event."""

    stream_version: int
    occurred_at: datetime
