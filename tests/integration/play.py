"""A long seeded random history played through MailServerService, with the
state the test itself tracks after every event."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from domain.commands import (
    AddServer,
    ChangeServer,
    Command,
    DeleteAllServers,
    DeleteServer,
    IncomingInput,
    OutgoingInput,
    ReorderServers,
    RestoreServers,
)
from domain.errors import MailServerError
from domain.events import Event
from domain.model import Server
from domain.state import ServerList, evolve
from domain.values import OAuthProvider, ReceiveProtocol, SmtpAuthMethod, SmtpCredentials, SmtpEncryption
from events.application.history import History
from events.application.service import MailServerService, Request
from events.serialization import JsonDict
from tests.integration.builders import new_id

KINDS = {"add": 30, "change": 30, "reorder": 10, "delete": 12, "delete all": 2, "restore": 8}
CODES = [f"C{n}" for n in range(30)] + ["  C1  ", "c1", "Zentrale Ö"]
NAMES = ["Main", "Backup", "Branch office", "Ünïcödé", "Main"]
HOSTS = ["mail.example.com", "SMTP.Example.ORG.", "10.0.0.1", "2001:db8::1", "bücher.example"]
AUTH = [m for m in SmtpAuthMethod if m is not SmtpAuthMethod.XOAUTH2]


@dataclass
class Played:
    engine: AsyncEngine
    final: ServerList = field(default_factory=ServerList)
    states: dict[int, ServerList] = field(default_factory=dict)
    """The state the test tracked just after the event at each position."""
    restores: list[tuple[ServerList, ServerList]] = field(default_factory=list)
    """(target, state after the restore) of every restore that appended."""
    restore_positions: list[int] = field(default_factory=list)
    """Positions of the events restores appended (their intermediate states matter most)."""
    executed: Counter[str] = field(default_factory=Counter)
    rejected: Counter[str] = field(default_factory=Counter)


def _maybe(rng: random.Random, probability: float) -> bool:
    return rng.random() < probability


def _manual_outgoing(rng: random.Random) -> dict[str, Any]:
    auth = rng.choice(AUTH)
    out: dict[str, Any] = {
        "host": rng.choice(HOSTS),
        "port": rng.choice([25, 465, 587, 2525, 0]),
        "encryption": rng.choice(list(SmtpEncryption)),
        "auth_method": auth,
    }
    if auth is not SmtpAuthMethod.NONE:
        out["credentials"] = rng.choice(list(SmtpCredentials))
    return out


def _manual_incoming(rng: random.Random, protocol: ReceiveProtocol) -> dict[str, Any]:
    return {
        "host": rng.choice(HOSTS),
        "port": rng.choice([110, 143, 993, 995]),
        "use_tls": _maybe(rng, 0.5),
        "use_apop": protocol is ReceiveProtocol.POP3 and _maybe(rng, 0.3),
    }


def _add(rng: random.Random) -> AddServer:
    protocol = rng.choice(list(ReceiveProtocol))
    common = {"server_id": new_id(), "code": rng.choice(CODES), "name": rng.choice(NAMES)}
    timeouts = (rng.randint(10, 120), rng.randint(10, 120))
    if _maybe(rng, 0.3):
        return AddServer(
            **common,
            oauth_provider=rng.choice(list(OAuthProvider)),
            outgoing=OutgoingInput(timeout_seconds=timeouts[0]),
            incoming=IncomingInput(protocol=protocol, timeout_seconds=timeouts[1]),
        )
    return AddServer(
        **common,
        oauth_provider=None,
        outgoing=OutgoingInput(**_manual_outgoing(rng), timeout_seconds=timeouts[0]),
        incoming=IncomingInput(protocol=protocol, **_manual_incoming(rng, protocol), timeout_seconds=timeouts[1]),
    )


def _change(rng: random.Random, server: Server) -> ChangeServer:
    extra: dict[str, Any] = {}
    out: dict[str, Any] = {}
    inc: dict[str, Any] = {}
    if _maybe(rng, 0.4):
        extra["name"] = rng.choice(NAMES)
    if _maybe(rng, 0.25):
        extra["code"] = rng.choice(CODES)
    if _maybe(rng, 0.3):
        inc["protocol"] = rng.choice(list(ReceiveProtocol))
    if _maybe(rng, 0.3):
        out["timeout_seconds"] = rng.randint(10, 120)
    if _maybe(rng, 0.3):
        inc["timeout_seconds"] = rng.randint(10, 120)
    protocol = inc.get("protocol", server.settings.incoming.protocol)
    provider = server.settings.oauth_provider
    if provider is None and _maybe(rng, 0.2):
        extra["oauth_provider"] = rng.choice(list(OAuthProvider))
    elif provider is None:
        if _maybe(rng, 0.4):
            out.update(_manual_outgoing(rng))
        if _maybe(rng, 0.4):
            inc.update(_manual_incoming(rng, protocol))
    elif _maybe(rng, 0.2):
        extra["oauth_provider"] = None
        out.update(_manual_outgoing(rng))
        inc.update(_manual_incoming(rng, protocol))
    elif _maybe(rng, 0.2):
        extra["oauth_provider"] = rng.choice(list(OAuthProvider))
    if _maybe(rng, 0.2):
        extra["expected_version"] = server.version - (1 if _maybe(rng, 0.3) else 0)
    return ChangeServer(server_id=server.id, outgoing=OutgoingInput(**out), incoming=IncomingInput(**inc), **extra)


def _list_version(rng: random.Random, state: ServerList) -> int | None:
    if not _maybe(rng, 0.3):
        return None
    return state.list_version - (1 if _maybe(rng, 0.3) else 0)


async def _command(rng: random.Random, kind: str, state: ServerList, played: Played) -> Command:
    if kind == "add" or (not state.order and kind in ("change", "reorder", "delete")):
        return _add(rng)
    if kind == "change":
        return _change(rng, state.servers[rng.choice(state.order)])
    if kind == "reorder":
        order = list(state.order)
        rng.shuffle(order)
        return ReorderServers(server_ids=tuple(order), expected_list_version=_list_version(rng, state))
    if kind == "delete":
        server = state.servers[rng.choice(state.order)]
        expected = server.version if _maybe(rng, 0.3) else None
        return DeleteServer(server_id=server.id, expected_version=expected)
    if kind == "delete all":
        return DeleteAllServers(expected_list_version=_list_version(rng, state))
    target = await History(played.engine).list_at(str(rng.choice(list(played.states) or [0])))
    return RestoreServers(target=target or ServerList(), expected_list_version=_list_version(rng, state))


async def play(engine: AsyncEngine, rng: random.Random, commands: int) -> Played:
    """Run `commands` random commands; rejected ones are counted, not fatal."""
    played = Played(engine)
    service = MailServerService(engine)
    state = ServerList()
    for _ in range(commands):
        kind = rng.choices(list(KINDS), weights=list(KINDS.values()))[0]
        command = await _command(rng, kind, state, played)
        seen: list[ServerList] = []

        def capture(after: ServerList, _events: tuple[Event, ...] | Any, seen: list[ServerList] = seen) -> JsonDict:
            seen.append(after)
            return {}

        try:
            outcome = await service.execute(command, Request(actor="random-admin"), capture)
        except MailServerError:
            played.rejected[type(command).__name__] += 1
            continue
        for entry in outcome.recorded:
            state = evolve(state, entry.event, entry.meta)
            played.states[entry.position] = state
        assert seen == [state], "execute's own state differs from the fold of what it recorded"
        if outcome.recorded:
            played.executed[type(command).__name__] += 1
        if isinstance(command, RestoreServers) and outcome.recorded:
            played.restores.append((command.target, state))
            played.restore_positions.extend(e.position for e in outcome.recorded)
    played.final = state
    return played
