"""The server list and the fold from events to it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import assert_never

from domain.events import (
    AllServersDeleted,
    Event,
    EventMeta,
    ServerAdded,
    ServerChanged,
    ServerDeleted,
    ServersReordered,
    changes_membership_or_order,
)
from domain.model import Server, apply_changes

_EMPTY: Mapping[str, Server] = MappingProxyType({})


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerList:
    """The live servers in admin order, and the list's version."""

    servers: Mapping[str, Server] = field(default_factory=lambda: _EMPTY)
    order: tuple[str, ...] = ()
    list_version: int = 0

    def ordered(self) -> tuple[Server, ...]:
        """The servers in admin order."""
        return tuple(self.servers[i] for i in self.order)

    def get(self, server_id: str) -> Server | None:
        """The live server with this id, if any."""
        return self.servers.get(server_id)

    def holder_of(self, code: str) -> Server | None:
        """The live server with this code, if any."""
        for server in self.servers.values():
            if server.code == code:
                return server
        return None

    def position_of(self, server_id: str) -> int:
        """The 1-based position of a live server."""
        return self.order.index(server_id) + 1


class Fold:
    """Applies events in place; `evolve` and `fold_events` share this one logic."""

    def __init__(self, state: ServerList | None = None) -> None:
        state = state or ServerList()
        self.servers: dict[str, Server] = dict(state.servers)
        self.order: list[str] = list(state.order)
        self.list_version = state.list_version

    def apply(self, event: Event, meta: EventMeta) -> None:
        """Fold one recorded event into the state."""
        match event:
            case ServerAdded():
                self.servers[event.server_id] = Server(
                    id=event.server_id,
                    settings=event.settings,
                    version=meta.stream_version,
                    created_at=event.created_at or meta.occurred_at,
                    updated_at=meta.occurred_at,
                )
                self.order.append(event.server_id)
            case ServerChanged():
                server = self.servers[event.server_id]
                changes = tuple((c.field, c.before, c.after) for c in event.changes)
                self.servers[event.server_id] = replace(
                    server,
                    settings=apply_changes(server.settings, changes),
                    version=meta.stream_version,
                    updated_at=meta.occurred_at,
                )
            case ServersReordered():
                self.order = list(event.after)
            case ServerDeleted():
                del self.servers[event.server_id]
                self.order.remove(event.server_id)
            case AllServersDeleted():
                self.servers.clear()
                self.order.clear()
            case _:
                assert_never(event)
        if changes_membership_or_order(event):
            self.list_version += 1

    def freeze(self) -> ServerList:
        """The state folded so far, as an immutable ServerList."""
        return ServerList(
            servers=MappingProxyType(dict(self.servers)),
            order=tuple(self.order),
            list_version=self.list_version,
        )


def evolve(state: ServerList, event: Event, meta: EventMeta) -> ServerList:
    """The server list just after `event`."""
    fold = Fold(state)
    fold.apply(event, meta)
    return fold.freeze()


def fold_events(events: Iterable[tuple[Event, EventMeta]], state: ServerList | None = None) -> ServerList:
    """Fold a sequence of recorded events, oldest first."""
    fold = Fold(state)
    for event, meta in events:
        fold.apply(event, meta)
    return fold.freeze()


def touched(event: Event, before: ServerList) -> list[str]:
    """The servers a list-wide event touched, beyond its own stream."""
    match event:
        case ServersReordered():
            return [i for n, i in enumerate(event.after, start=1) if before.position_of(i) != n]
        case AllServersDeleted():
            return list(event.server_ids)
        case ServerAdded() | ServerChanged() | ServerDeleted():
            return []
        case _:
            assert_never(event)
