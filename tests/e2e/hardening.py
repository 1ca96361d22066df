"""Helpers for the hardening tests (abuse limits, security, operations): the app
in-process with a record of its SQL, real `mailreg serve` processes shared by
those modules, a raw graphql-transport-ws client, and the abuse tally."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
import websockets
from graphql import Source, Token, TokenKind
from graphql.language.lexer import Lexer
from sqlalchemy import event
from starlette.applications import Starlette

from api.auth import issue
from tests.e2e.conftest import config_for, create_app, migrated
from tests.e2e.eventlog import EventLog
from tests.e2e.live import LiveServer
from tests.support import SECRET, create_pg_database, drop_pg_database, token

Json = dict[str, Any]
GRAPHQL_TRANSPORT_WS = "graphql-transport-ws"
ADMIN = token("admin-user")
GRAPHQL_RESPONSE = "application/graphql-response+json"

# ------------------------------------------------------------ abuse tally

TRIED: Counter[str] = Counter()
REFUSED: Counter[str] = Counter()


@asynccontextmanager
async def abuse(kind: str) -> AsyncIterator[None]:
    """Tallies one abusive request of a class: tried on entry, refused when
    the block (which asserts the refusal and that nothing was appended) passes."""
    TRIED[kind] += 1
    yield
    REFUSED[kind] += 1


_SUMMARY: list[bool] = []


@pytest.fixture(scope="session")
def abuse_summary(request: pytest.FixtureRequest) -> Iterator[None]:
    """Prints one line with the requests refused and tried per abuse class when the session ends."""
    owner = not _SUMMARY
    _SUMMARY.append(True)
    yield
    if not owner:
        return
    classes = ", ".join(f"{kind} {REFUSED[kind]}/{TRIED[kind]}" for kind in sorted(TRIED))
    line = (
        f"abuse requests refused (nothing appended) / tried, per class: {classes}; "
        f"total {sum(REFUSED.values())}/{sum(TRIED.values())}"
    )
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is not None and capture is not None:
        with capture.global_and_fixture_disabled():
            reporter.write_line("")
            reporter.write_line(line)


# ------------------------------------------------------------ documents

MIB = 1024 * 1024


def fresh() -> str:
    return f"abuse-{uuid.uuid4().hex[:10]}"


def add(code: str, **outgoing: Any) -> str:
    """One addMailServer field that an admin could run successfully (with `outgoing` settings on top)."""
    settings = ", ".join(f"{k}: {v}" for k, v in {"host": '"smtp.example.com"', "port": 25, **outgoing}.items())
    return (
        f'addMailServer(input: {{code: "{code}", name: "Abuse", outgoing: {{{settings}}}, '
        'incoming: {protocol: POP3, host: "pop.example.com", port: 110}}) { errors { code } }'
    )


def lex(document: str) -> Iterator[Token]:
    lexer = Lexer(Source(document))
    while (token := lexer.advance()).kind != TokenKind.EOF:
        yield token


def tokens(count: int) -> str:
    """A valid query of exactly `count` lexical tokens (a long list argument)."""
    base = len(list(lex("{ events(filter: {types: []}) { __typename } }")))
    return "{ events(filter: {types: [" + ' "T"' * (count - base) + "]}) { __typename } }"


def padded_body(query: str, size: int) -> bytes:
    """A JSON request of exactly `size` bytes: the document, then white space."""
    body = json.dumps({"query": query}).encode()
    assert len(body) <= size
    return body + b" " * (size - len(body))


async def eventually(check: Callable[[], Awaitable[Any]], within: float = 5.0) -> Any:
    """The first truthy result of `check`, polled for up to `within` seconds (else its last result)."""
    deadline = time.monotonic() + within
    while True:
        result = await check()
        if result or time.monotonic() > deadline:
            return result
        await asyncio.sleep(0.1)


# ------------------------------------------------------------ in-process app

_MIGRATIONS = asyncio.Lock()


async def migrate_once(database_url: str) -> None:
    """Alembic keeps its context in module globals: two upgrades interleaved in
    one process (say, the fleet's in the background) mix their connections."""
    async with _MIGRATIONS:
        await migrated(database_url)


@dataclass
class Harness:
    """The app in-process over httpx's ASGI transport, with every SQL statement
    its engine runs recorded in `statements`."""

    app: Starlette
    http: httpx.AsyncClient
    log: EventLog
    database_url: str
    statements: list[str] = field(default_factory=list)

    async def post(
        self, body: Json | list[Any] | bytes, *, bearer: str | None = ADMIN, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        sent = {"Authorization": f"Bearer {bearer}"} if bearer else {}
        sent.update(headers or {})
        if isinstance(body, bytes):
            sent.setdefault("Content-Type", "application/json")
            return await self.http.post("/graphql", content=body, headers=sent)
        return await self.http.post("/graphql", json=body, headers=sent)

    async def gql(self, query: str, variables: Json | None = None, **kwargs: Any) -> Json:
        response = await self.post({"query": query, "variables": variables or {}}, **kwargs)
        assert response.status_code == 200, response.text
        result: Json = response.json()
        return result


@asynccontextmanager
async def in_process(
    database_url: str, data_dir: Path, *, quiet: bool = False, **config: Any
) -> AsyncIterator[Harness]:
    """A migrated app on `database_url`; `config` overrides Config fields. With
    `quiet` the live feed is stopped, so that the app runs SQL only for requests."""
    await migrate_once(database_url)
    app = create_app(replace(config_for(database_url, data_dir), **config))
    log = EventLog(database_url)
    async with app.router.lifespan_context(app):
        if quiet:
            await app.state.services.feed.stop()
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://mailreg.test") as http:
            harness = Harness(app=app, http=http, log=log, database_url=database_url)
            event.listen(
                app.state.services.engine.sync_engine,
                "before_cursor_execute",
                lambda _c, _cur, statement, *_: harness.statements.append(statement),
            )
            try:
                yield harness
            finally:
                await log.dispose()


@asynccontextmanager
async def pg_database() -> AsyncIterator[str]:
    url = await create_pg_database()
    try:
        yield url
    finally:
        await drop_pg_database(url)


# ------------------------------------------------------------ real servers


@dataclass
class Fleet:
    """Real `mailreg serve` processes with JSON logs on their own PostgreSQL
    databases: `shared` for ordinary use, `doomed` for tests that break its schema."""

    shared: LiveServer
    doomed: LiveServer


_FLEET: dict[str, Any] = {}


async def _start_fleet(folder: Path) -> Fleet:
    urls = _FLEET["urls"] = [await create_pg_database(), await create_pg_database()]
    servers = _FLEET["servers"] = [
        LiveServer(database_url=url, data_dir=folder / name, extra_env={"MAILREG_LOG_FORMAT": "json"})
        for url, name in zip(urls, ("shared", "doomed"), strict=True)
    ]
    for url in urls:
        await migrate_once(url)
    # Generous: start-up is mostly imports, slow on a busy machine.
    await asyncio.gather(*(asyncio.to_thread(server.start, 90) for server in servers))
    return Fleet(*servers)


@pytest.fixture(scope="session")
async def fleet_warmup(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[None]:
    """Starts the fleet in the background (server start-up is slow), so that
    in-process tests run meanwhile, if any selected test needs it; stops it
    when the session ends."""
    needed = any("fleet" in getattr(item, "fixturenames", ()) for item in request.session.items)
    owner = needed and "task" not in _FLEET
    if owner:
        _FLEET["task"] = asyncio.ensure_future(_start_fleet(tmp_path_factory.mktemp("fleet")))
    yield
    if not owner:
        return
    with contextlib.suppress(Exception):
        await _FLEET["task"]
    await asyncio.gather(*(asyncio.to_thread(server.stop) for server in _FLEET.get("servers", [])))
    for url in _FLEET.get("urls", []):
        await drop_pg_database(url)


@pytest.fixture(scope="session")
async def fleet(fleet_warmup: None) -> Fleet:
    started: Fleet = await _FLEET["task"]
    return started


def json_lines(output: list[str], start: int = 0) -> list[Json]:
    """The server's output lines from `start`, each of which must be a JSON object."""
    lines = [line for line in output[start:] if line.strip()]
    parsed = []
    for line in lines:
        try:
            entry = json.loads(line)
        except ValueError:
            raise AssertionError(f"not a JSON log line: {line!r}") from None
        assert isinstance(entry, dict), line
        parsed.append(entry)
    return parsed


# ------------------------------------------------------------ tokens


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forge(header: Json, claims: Json, key: bytes | None, digest: Any = hashlib.sha256) -> str:
    """A JWT signed by hand with HMAC (`key` None: no signature), so that a
    test can make tokens that PyJWT itself refuses to make."""
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}"
    signature = b"" if key is None else hmac.new(key, signing_input.encode(), digest).digest()
    return f"{signing_input}.{b64url(signature)}"


def tamper(jwt_token: str, **claims: Any) -> str:
    """The token with its claims changed and its header and signature kept."""
    header, payload, signature = jwt_token.split(".")
    decoded = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return f"{header}.{b64url(json.dumps({**decoded, **claims}).encode())}.{signature}"


BAD_TOKENS: dict[str, str] = {
    "garbage": "not-a-jwt",
    "wrong secret": issue("another-secret-that-is-long-enough-too!", "admin-user", ["admin"]),
    "alg none": forge({"alg": "none", "typ": "JWT"}, {"sub": "admin-user", "roles": ["admin"]}, None),
    "expired": token(ttl=-60),
    "tampered roles": tamper(token("clerk", roles=[]), roles=["admin"]),
}
"""Tokens that must count as no token at all (UNAUTHENTICATED)."""

NON_ADMIN_TOKENS: dict[str, str] = {
    "no roles": token("clerk", roles=[]),
    "user role": token("clerk", roles=["user"]),
    "Admin capitalised": token("clerk", roles=["Admin"]),
    "roles as a string": jwt.encode({"sub": "clerk", "roles": "admin"}, SECRET, algorithm="HS256"),
}
"""Valid tokens without the admin role (FORBIDDEN where admin is needed)."""


# ------------------------------------------------------------ websockets


@dataclass
class Closed:
    code: int | None
    reason: str
    messages: list[Json]


class Socket:
    """A raw websocket client: the test decides what to send and when."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws

    @classmethod
    @asynccontextmanager
    async def connect(cls, url: str, subprotocols: list[str] | None = None) -> AsyncIterator[Socket]:
        offered = [GRAPHQL_TRANSPORT_WS] if subprotocols is None else subprotocols
        async with websockets.connect(
            url, subprotocols=offered or None, open_timeout=10, close_timeout=2, max_size=None
        ) as ws:
            yield cls(ws)

    @classmethod
    @asynccontextmanager
    async def signed_in(cls, url: str, bearer: str = ADMIN) -> AsyncIterator[Socket]:
        async with cls.connect(url) as socket:
            await socket.init(bearer)
            ack = await socket.receive()
            assert ack["type"] == "connection_ack", ack
            yield socket

    @property
    def subprotocol(self) -> str | None:
        value: str | None = self.ws.subprotocol
        return value

    async def send(self, message: Json) -> None:
        await self.ws.send(json.dumps(message))

    async def init(self, bearer: str | None) -> None:
        payload = {"authorization": f"Bearer {bearer}"} if bearer is not None else {}
        await self.send({"type": "connection_init", "payload": payload})

    async def subscribe(self, id: str, query: str, variables: Json | None = None) -> None:
        await self.send({"id": id, "type": "subscribe", "payload": {"query": query, "variables": variables or {}}})

    async def receive(self, within: float = 10.0) -> Json:
        """The next message that is not a ping (pings are answered)."""
        while True:
            message: Json = json.loads(await asyncio.wait_for(self.ws.recv(), within))
            if message.get("type") == "ping":
                await self.send({"type": "pong"})
                continue
            return message

    async def closed(self, within: float = 10.0) -> Closed:
        """Reads until the server closes the connection; what it said before, and how it closed."""
        messages: list[Json] = []
        try:
            while True:
                messages.append(await self.receive(within))
        except websockets.ConnectionClosed as closed:
            received = closed.rcvd
            return Closed(received.code if received else None, received.reason if received else "", messages)
