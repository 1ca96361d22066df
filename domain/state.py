"""The server list and the fold from events to it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
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
    """Applies events in place; `evolve` and `fold_events` share this one logic.

    The mappings and the order are shared with the state it starts from and
    with the states it hands out, and copied only before a change: the write
    path folds one event into a list of a thousand servers per command, where
    copying everything on the way in and out cost more than the event itself."""

    def __init__(self, state: ServerList | None = None) -> None:
        state = state or ServerList()
        self.servers: Mapping[str, Server] = state.servers
        self.order: Sequence[str] = state.order
        self.list_version = state.list_version
        self._codes: Mapping[str, str] = (
            state.codes if state.codes is not None else {s.code: s.id for s in state.servers.values()}
        )
        # Which of the three are this fold's own to change (else: copy first).
        self._own_servers = self._own_order = False
        self._own_codes = state.codes is None

    def _servers(self) -> dict[str, Server]:
        if not self._own_servers:
            self.servers = _copy(self.servers)
            self._own_servers = True
        return self.servers  # type: ignore[return-value]

    def _order(self) -> list[str]:
        if not self._own_order:
            self.order = list(self.order)
            self._own_order = True
        return self.order  # type: ignore[return-value]

    def _codes_to_change(self) -> dict[str, str]:
        if not self._own_codes:
            self._codes = _copy(self._codes)
            self._own_codes = True
        return self._codes  # type: ignore[return-value]

    def apply(self, event: Event, meta: EventMeta) -> None:
        """Fold one recorded event into the state."""
        self._keep_codes(event)
        match event:
            case ServerAdded():
                self._servers()[event.server_id] = Server(
                    id=event.server_id,
                    settings=event.settings,
                    version=meta.stream_version,
                    created_at=event.created_at or meta.occurred_at,
                    updated_at=meta.occurred_at,
                )
                self._order().append(event.server_id)
            case ServerChanged():
                server = self.servers[event.server_id]
                changes = tuple((c.field, c.before, c.after) for c in event.changes)
                changed = Server(
                    id=server.id,
                    settings=apply_changes(server.settings, changes),
                    version=meta.stream_version,
                    created_at=server.created_at,
                    updated_at=meta.occurred_at,
                )
                self._servers()[event.server_id] = changed
                if changed.code != server.code:
                    codes = self._codes_to_change()
                    codes.pop(server.code, None)
                    codes[changed.code] = event.server_id
            case ServersReordered():
                self.order, self._own_order = list(event.after), True
            case ServerDeleted():
                del self._servers()[event.server_id]
                self._order().remove(event.server_id)
            case AllServersDeleted():
                self.servers, self._own_servers = {}, True
                self.order, self._own_order = [], True
            case _:
                assert_never(event)
        if changes_membership_or_order(event):
            self.list_version += 1

    def _keep_codes(self, event: Event) -> None:
        match event:
            case ServerAdded():
                self._codes_to_change()[event.settings.code] = event.server_id
            case ServerChanged():
                pass  # a changed code is kept in `apply`, where the new settings are known
            case ServerDeleted():
                self._codes_to_change().pop(self.servers[event.server_id].code, None)
            case AllServersDeleted():
                self._codes, self._own_codes = {}, True
            case ServersReordered():
                pass
            case _:
                assert_never(event)

    def freeze(self) -> ServerList:
        """The state folded so far, as an immutable ServerList (which keeps
        this fold's mappings: the fold copies them before its next change)."""
        self._own_servers = self._own_codes = False
        servers, codes = self.servers, self._codes
        return ServerList(
            servers=MappingProxyType(servers) if isinstance(servers, dict) else servers,
            order=self.order if isinstance(self.order, tuple) else tuple(self.order),
            list_version=self.list_version,
            codes=MappingProxyType(codes) if isinstance(codes, dict) else codes,
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
