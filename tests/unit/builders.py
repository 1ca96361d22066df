"""Plain builders for the unit tests: settings, commands, and an in-memory log."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from domain.commands import AddServer, ChangeServer, Command, IncomingInput, OutgoingInput
from domain.decide import decide
from domain.errors import ErrorCode, MailServerError, Problem
from domain.events import Event, EventMeta, ServerAdded, stream_of
from domain.model import Incoming, Outgoing, Settings, fields, from_fields, oauth_servers
from domain.state import ServerList, fold_events
from domain.values import OAuthProvider, ReceiveProtocol

T0 = datetime(2025, 1, 1, tzinfo=UTC)

POP3 = ReceiveProtocol.POP3
IMAP4 = ReceiveProtocol.IMAP4
GOOGLE = OAuthProvider.GOOGLE
MICROSOFT = OAuthProvider.MICROSOFT

MANUAL_OUT: dict[str, Any] = {"host": "smtp.example.com", "port": 25}
MANUAL_IN: dict[str, Any] = {"protocol": POP3, "host": "pop.example.com", "port": 110}


def at(minute: int) -> datetime:
    return T0 + timedelta(minutes=minute)


class Log:
    """An event log kept in memory. Appending gives each event what a store
    would: the next version of its stream and a later time."""

    def __init__(self, *events: Event) -> None:
        self.records: list[tuple[Event, EventMeta]] = []
        self.versions: Counter[str] = Counter()
        self.append(*events)

    def append(self, *events: Event) -> None:
        for event in events:
            stream = stream_of(event)
            self.versions[stream] += 1
            meta = EventMeta(stream_version=self.versions[stream], occurred_at=at(len(self.records) + 1))
            self.records.append((event, meta))

    @property
    def state(self) -> ServerList:
        return fold_events(self.records)

    def run(self, command: Command) -> tuple[Event, ...]:
        """Decide `command` on the current state and append what comes out."""
        events = decide(command, self.state)
        self.append(*events)
        return events


def given(*events: Event) -> ServerList:
    return Log(*events).state


def manual(
    code: str = "MAIN", *, name: str = "Main server", protocol: ReceiveProtocol = POP3, **overrides: Any
) -> Settings:
    """A manual server; `overrides` use dotted API field names, e.g. {"outgoing.port": 587}."""
    host, port = ("pop.example.com", 110) if protocol is POP3 else ("imap.example.com", 143)
    settings = Settings(
        code=code,
        name=name,
        oauth_provider=None,
        outgoing=Outgoing(host="smtp.example.com", port=25),
        incoming=Incoming(protocol=protocol, host=host, port=port),
    )
    return with_fields(settings, overrides)


def oauth(
    code: str = "MAIL",
    *,
    provider: OAuthProvider = GOOGLE,
    protocol: ReceiveProtocol = IMAP4,
    name: str = "OAuth server",
    timeouts: tuple[int, int] = (60, 60),
) -> Settings:
    outgoing, incoming = oauth_servers(provider, protocol, *timeouts)
    return Settings(code=code, name=name, oauth_provider=provider, outgoing=outgoing, incoming=incoming)


def with_fields(settings: Settings, overrides: dict[str, Any]) -> Settings:
    values = fields(settings)
    assert set(overrides) <= set(values), set(overrides) - set(values)
    values.update(overrides)
    return from_fields(values)


def added(server_id: str, settings: Settings | None = None, **kwargs: Any) -> ServerAdded:
    return ServerAdded(server_id=server_id, settings=settings or manual(**kwargs))


def add(
    code: Any = "MAIN",
    name: Any = "Main server",
    *,
    server_id: str = "new",
    oauth_provider: OAuthProvider | None = None,
    outgoing: dict[str, Any] | None = None,
    incoming: dict[str, Any] | None = None,
) -> AddServer:
    """An AddServer; `outgoing`/`incoming` are laid over a valid default input
    (manual hosts and ports without OAuth, only the protocol with it). UNSET removes a key."""
    base_out: dict[str, Any] = {} if oauth_provider else dict(MANUAL_OUT)
    base_in: dict[str, Any] = {"protocol": IMAP4} if oauth_provider else dict(MANUAL_IN)
    return AddServer(
        server_id=server_id,
        code=code,
        name=name,
        oauth_provider=oauth_provider,
        outgoing=OutgoingInput(**{**base_out, **(outgoing or {})}),
        incoming=IncomingInput(**{**base_in, **(incoming or {})}),
    )


def change(
    server_id: str = "s1",
    *,
    outgoing: dict[str, Any] | None = None,
    incoming: dict[str, Any] | None = None,
    **kwargs: Any,
) -> ChangeServer:
    return ChangeServer(
        server_id=server_id,
        outgoing=OutgoingInput(**(outgoing or {})),
        incoming=IncomingInput(**(incoming or {})),
        **kwargs,
    )


def problem(path: str, code: ErrorCode) -> Problem:
    """A Problem at a dotted path: "outgoing.port" is ("outgoing", "port")."""
    return Problem(tuple(path.split(".")), code)


def problems_raised(command: Command, state: ServerList) -> list[Problem]:
    with pytest.raises(MailServerError) as raised:
        decide(command, state)
    return sorted(raised.value.problems, key=repr)


def problems(*pairs: tuple[str, ErrorCode]) -> list[Problem]:
    return sorted((problem(path, code) for path, code in pairs), key=repr)


def codes_of(state: ServerList) -> list[str]:
    return [server.code for server in state.ordered()]
