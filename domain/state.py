"""The server list and the fold from events to it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import TypeVar, assert_never

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
_K = TypeVar("_K")
_V = TypeVar("_V")


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerList:
    """The live servers in admin order, and the list's version."""

    servers: Mapping[str, Server] = field(default_factory=lambda: _EMPTY)
    order: tuple[str, ...] = ()
    list_version: int = 0
    # code -> id, built on first use (or handed over by a Fold): a lookup by
    # code is then O(1) however long the list is.
    codes: Mapping[str, str] | None = field(default=None, compare=False, repr=False)

    def ordered(self) -> tuple[Server, ...]:
        """The servers in admin order."""
        return tuple(self.servers[i] for i in self.order)

    def get(self, server_id: str) -> Server | None:
        """The live server with this id, if any."""
        return self.servers.get(server_id)

    def holder_of(self, code: str) -> Server | None:
        """The live server with this code, if any."""
        codes = self.codes
        if codes is None:
            codes = {server.code: server.id for server in self.servers.values()}
            object.__setattr__(self, "codes", codes)
        holder = codes.get(code)
        return None if holder is None else self.servers.get(holder)

    def position_of(self, server_id: str) -> int:
        """The 1-based position of a live server."""
        return self.order.index(server_id) + 1


def _copy(mapping: Mapping[_K, _V]) -> dict[_K, _V]:
    # dict(proxy) goes key by key through the mapping protocol; the proxy's own
    # copy() is the C dict copy, some fifteen times faster on a long list.
    if isinstance(mapping, (dict, MappingProxyType)):
        copied: dict[_K, _V] = mapping.copy()
        return copied
    return dict(mapping)


class Fold:
    """Applies events in place; `evolve` and `fold_events` share this one logic."""

    def __init__(self, state: ServerList | None = None) -> None:
        state = state or ServerList()
        self.servers: dict[str, Server] = _copy(state.servers)
        self.order: list[str] = list(state.order)
        self.list_version = state.list_version
        self._codes = _copy(state.codes) if state.codes is not None else {s.code: s.id for s in state.servers.values()}

    def apply(self, event: Event, meta: EventMeta) -> None:
        """Fold one recorded event into the state."""
        self._keep_codes(event)
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
                if self.servers[event.server_id].code != server.code:
                    self._codes.pop(server.code, None)
                    self._codes[self.servers[event.server_id].code] = event.server_id
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

    def _keep_codes(self, event: Event) -> None:
        codes = self._codes
        match event:
            case ServerAdded():
                codes[event.settings.code] = event.server_id
            case ServerChanged():
                pass  # a changed code is kept in `apply`, where the new settings are known
            case ServerDeleted():
                codes.pop(self.servers[event.server_id].code, None)
            case AllServersDeleted():
                codes.clear()
            case ServersReordered():
                pass
            case _:
                assert_never(event)

    def freeze(self) -> ServerList:
        """The state folded so far, as an immutable ServerList."""
        return ServerList(
            servers=MappingProxyType(dict(self.servers)),
            order=tuple(self.order),
            list_version=self.list_version,
            codes=MappingProxyType(dict(self._codes)),
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
