"""Helpers for the history and subscription tests: fresh migrated PostgreSQL
databases, the app in-process or as real processes, a thin GraphQL client that
fails on errors by default, a raw graphql-transport-ws client, and a fold of
the API's own view of the event log back into a server list."""

from __future__ import annotations

import asyncio
import copy
import json
import re
import signal
import threading
import time
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import httpx
import sqlalchemy as sa
import websockets

from api.app import create_app
from api.config import Config
from events import migrate
from events.database import create_engine
from tests.support import SECRET, ServerProcess, create_pg_database, drop_pg_database, token

Json = dict[str, Any]
GRAPHQL_TRANSPORT_WS = "graphql-transport-ws"

SERVER_FIELDS = """
fragment ServerFields on MailServer {
  id code name position oauthProvider version createdAt updatedAt
  outgoing { host port encryption authMethod credentials timeoutSeconds }
  incoming { protocol host port useTls useApop timeoutSeconds }
}"""

EVENT_FIELDS = (
    SERVER_FIELDS
    + """
fragment EventFields on DomainEvent {
  position streamId streamVersion type occurredAt actor correlationId data
  ... on ServerAdded { server { ...ServerFields } }
  ... on ServerChanged { changes { field before after } }
  ... on ServersReordered { before after }
  ... on ServerDeleted { code name }
  ... on AllServersDeleted { deletedIds }
}"""
)

LIST = "version totalCount items { ...ServerFields }"
ERRORS = "errors { field code message }"

MUTATIONS = {
    "addMailServer": ("AddMailServerInput!", f"server {{ ...ServerFields }} {ERRORS}"),
    "changeMailServer": ("ChangeMailServerInput!", f"server {{ ...ServerFields }} {ERRORS}"),
    "reorderMailServers": ("ReorderMailServersInput!", f"list {{ {LIST} }} {ERRORS}"),
    "deleteMailServer": ("DeleteMailServerInput!", f"deletedId {ERRORS}"),
    "deleteAllMailServers": ("DeleteAllMailServersInput", f"deletedCount {ERRORS}"),
    "restoreMailServers": ("RestoreMailServersInput!", f"list {{ {LIST} }} {ERRORS}"),
}

EVENTS = (
    EVENT_FIELDS
    + """
query Events($filter: EventFilter, $first: Int, $after: String) {
  events(filter: $filter, first: $first, after: $after) {
    edges { cursor node { ...EventFields } }
    pageInfo { hasNextPage endCursor }
  }
}"""
)

AS_OF = (
    SERVER_FIELDS
    + f"""
query AsOf($position: String, $at: DateTime) {{ mailServersAsOf(position: $position, at: $at) {{ {LIST} }} }}"""
)

SERVERS = SERVER_FIELDS + f"query Servers {{ mailServers {{ {LIST} }} }}"

EVENTS_SUBSCRIPTION = (
    EVENT_FIELDS
    + """
subscription Events($after: String) { mailServerEvents(after: $after) { ...EventFields } }"""
)

CHOICES_SUBSCRIPTION = "subscription Choices { mailServerChoicesChanged { id code name } }"

ADMIN = token("admin-user")


def manual(code: str, name: str | None = None, **extra: Any) -> Json:
    """A plain server without OAuth: SMTP on 25, POP3 on 110, all defaults."""
    return {
        "code": code,
        "name": name or f"Server {code}",
        "outgoing": {"host": "smtp.example.com", "port": 25},
        "incoming": {"protocol": "POP3", "host": "pop.example.com", "port": 110},
        **extra,
    }


def error_codes(body: Json) -> list[str | None]:
    return [error.get("extensions", {}).get("code") for error in body.get("errors") or []]


class Api:
    """GraphQL over HTTP; fails on top-level errors unless told to expect them."""

    def __init__(self, http: httpx.AsyncClient, bearer: str = ADMIN) -> None:
        self.http = http
        self.bearer = bearer

    async def post(
        self,
        query: str,
        variables: Json | None = None,
        *,
        bearer: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> Json:
        sent = {"Authorization": f"Bearer {bearer or self.bearer}", **(headers or {})}
        response = await self.http.post("/graphql", json={"query": query, "variables": variables or {}}, headers=sent)
        assert response.status_code == 200, response.text
        body: Json = response.json()
        return body

    async def data(self, query: str, variables: Json | None = None, **kwargs: Any) -> Json:
        body = await self.post(query, variables, **kwargs)
        assert not body.get("errors"), body["errors"]
        result: Json = body["data"]
        return result

    async def rejected(self, query: str, variables: Json | None = None, **kwargs: Any) -> list[str | None]:
        """The top-level error codes of a request that must fail."""
        body = await self.post(query, variables, **kwargs)
        assert body.get("errors"), body
        return error_codes(body)

    async def mutate(self, name: str, input: Json | None, *, ok: bool = True, **kwargs: Any) -> Json:
        """The payload of one mutation; with `ok` it must carry no user errors."""
        input_type, selection = MUTATIONS[name]
        fragments = SERVER_FIELDS if "ServerFields" in selection else ""
        query = (
            fragments
            + f"""
mutation M($input: {input_type}) {{ {name}(input: $input) {{ {selection} }} }}"""
        )
        payload: Json = (await self.data(query, {"input": input}, **kwargs))[name]
        if ok:
            assert payload["errors"] == [], payload["errors"]
        return payload

    async def add(self, input: Json, **kwargs: Any) -> Json:
        server: Json = (await self.mutate("addMailServer", input, **kwargs))["server"]
        return server

    async def servers(self) -> Json:
        result: Json = (await self.data(SERVERS))["mailServers"]
        return result

    async def page(self, *, first: int | None = 100, after: str | None = None, filter: Json | None = None) -> Json:
        variables: Json = {"first": first, "after": after, "filter": filter}
        result: Json = (await self.data(EVENTS, variables))["events"]
        return result

    async def events(self, *, after: str | None = None, filter: Json | None = None, first: int = 500) -> list[Json]:
        """Every event (after `after`, matching `filter`), following the pages."""
        nodes: list[Json] = []
        while True:
            page = await self.page(first=first, after=after, filter=filter)
            nodes.extend(edge["node"] for edge in page["edges"])
            if not page["pageInfo"]["hasNextPage"]:
                return nodes
            after = page["pageInfo"]["endCursor"]

    async def as_of(self, *, position: str | None = None, at: str | None = None) -> Json:
        result: Json = (await self.data(AS_OF, {"position": position, "at": at}))["mailServersAsOf"]
        return result


class Log:
    """Looks at the `events` table with plain SQL, as an auditor would."""

    def __init__(self, database_url: str) -> None:
        self.engine = create_engine(database_url)

    async def positions(self, after: int = 0) -> list[int]:
        query = sa.text("SELECT position FROM events WHERE position > :after ORDER BY position")
        async with self.engine.connect() as conn:
            return [int(row[0]) for row in await conn.execute(query, {"after": after})]

    async def dispose(self) -> None:
        await self.engine.dispose()


# ------------------------------------------------------------ deployments


def config_for(database_url: str, data_dir: Path) -> Config:
    """The configuration of an in-process app on this database, signing with the tests' secret."""
    return Config(
        database_url=database_url,
        data_dir=data_dir,
        jwt_secret=SECRET,
        jwt_public_key_file=None,
        jwt_issuer=None,
        jwt_audience=None,
        host="127.0.0.1",
        port=0,
        log_format="text",
    )


@asynccontextmanager
async def fresh_database() -> AsyncIterator[str]:
    """A new, migrated PostgreSQL database, dropped afterwards."""
    url = await create_pg_database()
    try:
        engine = create_engine(url)
        try:
            await migrate.upgrade(engine)
        finally:
            await engine.dispose()
        yield url
    finally:
        await drop_pg_database(url)


@asynccontextmanager
async def in_process(database_url: str, data_dir: Path) -> AsyncIterator[Api]:
    """The app in this process, its lifespan running, over httpx's ASGI transport."""
    app = create_app(config_for(database_url, data_dir))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://mailreg.test") as http:
            yield Api(http)


@dataclass
class LiveServer(ServerProcess):
    """A ServerProcess whose output is drained (so a chatty server never
    blocks on a full pipe) and kept for tests that read it."""

    output: list[str] = field(default_factory=list)
    _drainer: threading.Thread | None = None

    def start(self, timeout: float = 45.0) -> LiveServer:
        super().start(timeout)
        assert self.process is not None and self.process.stdout is not None
        self._drainer = threading.Thread(target=self._drain, args=(self.process.stdout,), daemon=True)
        self._drainer.start()
        return self

    def _drain(self, stream: IO[bytes]) -> None:
        with stream:
            for line in stream:
                self.output.append(line.decode(errors="replace"))

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int | None:
        code = super().stop(sig, timeout)
        if self._drainer is not None:
            self._drainer.join(5)
        return code

    def wait_for_output(self, pattern: str, timeout: float = 5.0) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while True:
            match = re.search(pattern, "".join(self.output), re.MULTILINE)
            if match is not None:
                return match
            assert time.monotonic() < deadline, f"{pattern!r} not in output:\n{''.join(self.output)}"
            time.sleep(0.05)


@asynccontextmanager
async def processes(count: int, database_url: str, folder: Path) -> AsyncIterator[list[LiveServer]]:
    """`count` real `mailreg serve` processes on one migrated database, started side by side."""
    started = [LiveServer(database_url=database_url, data_dir=folder / f"serve-{n}") for n in range(count)]
    try:
        # A loaded machine can take many seconds to import the app: be patient.
        await asyncio.gather(*(asyncio.to_thread(process.start, 60) for process in started))
        yield started
    finally:
        await asyncio.gather(*(asyncio.to_thread(process.stop) for process in started))


# ------------------------------------------------------------ websockets


class ProtocolError(AssertionError):
    """The server said something the test did not expect."""


class Socket:
    """One graphql-transport-ws connection over the `websockets` package."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws

    @classmethod
    @asynccontextmanager
    async def open(cls, url: str, bearer: str = ADMIN) -> AsyncIterator[Socket]:
        async with websockets.connect(
            url, subprotocols=[GRAPHQL_TRANSPORT_WS], open_timeout=5, close_timeout=2, max_size=None
        ) as ws:
            assert ws.subprotocol == GRAPHQL_TRANSPORT_WS
            socket = cls(ws)
            await socket.send({"type": "connection_init", "payload": {"authorization": f"Bearer {bearer}"}})
            ack = await socket.receive()
            if ack["type"] != "connection_ack":
                raise ProtocolError(ack)
            yield socket

    async def send(self, message: Json) -> None:
        await self.ws.send(json.dumps(message))

    async def receive(self, within: float = 10.0) -> Json:
        """The next message (within `within` seconds), answering pings on the way."""
        while True:
            message: Json = json.loads(await asyncio.wait_for(self.ws.recv(), within))
            if message["type"] == "ping":
                await self.send({"type": "pong"})
                continue
            return message

    async def subscribe(self, query: str, variables: Json | None = None, id: str = "1") -> None:
        await self.send({"id": id, "type": "subscribe", "payload": {"query": query, "variables": variables or {}}})

    async def next(self, within: float = 10.0) -> Json:
        """The data of the next `next` message; any other message fails the test."""
        message = await self.receive(within)
        if message["type"] != "next" or message["payload"].get("errors"):
            raise ProtocolError(message)
        data: Json = message["payload"]["data"]
        return data


# ------------------------------------------------------------ folding the API's events


def instant(value: str) -> datetime:
    return datetime.fromisoformat(value)


def comparable(servers: Iterable[Json]) -> list[Json]:
    """Servers with their timestamps as instants, so that equal times compare equal
    however they were spelled."""
    return [{**s, "createdAt": instant(s["createdAt"]), "updatedAt": instant(s["updatedAt"])} for s in servers]


def settings_of(server: Json) -> Json:
    """What an administrator sets: everything but id, position, version and timestamps."""
    return {key: copy.deepcopy(server[key]) for key in ("code", "name", "oauthProvider", "outgoing", "incoming")}


@dataclass
class Folded:
    """A server list rebuilt from the API's typed event view alone."""

    servers: dict[str, Json] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)
    version: int = 0

    @classmethod
    def of(cls, listed: Json) -> Folded:
        servers = {s["id"]: {k: v for k, v in copy.deepcopy(s).items() if k != "position"} for s in listed["items"]}
        return cls(servers=servers, order=[s["id"] for s in listed["items"]], version=listed["version"])

    def apply(self, node: Json) -> None:
        stream, kind = node["streamId"], node["type"]
        if kind == "ServerAdded":
            assert stream not in self.servers, node
            server = {k: v for k, v in copy.deepcopy(node["server"]).items() if k != "position"}
            assert server["id"] == stream and server["version"] == node["streamVersion"], node
            self.servers[stream] = {**server, "updatedAt": node["occurredAt"]}
            self.order.append(stream)
        elif kind == "ServerChanged":
            server = self.servers[stream]
            for change in node["changes"]:
                *parents, leaf = change["field"].split(".")
                holder = server
                for part in parents:
                    holder = holder[part]
                assert holder[leaf] == change["before"], (change, server)
                holder[leaf] = change["after"]
            server.update(version=node["streamVersion"], updatedAt=node["occurredAt"])
        elif kind == "ServersReordered":
            assert node["before"] == self.order, node
            assert sorted(node["after"]) == sorted(self.order), node
            self.order = list(node["after"])
        elif kind == "ServerDeleted":
            assert (node["code"], node["name"]) == (self.servers[stream]["code"], self.servers[stream]["name"])
            del self.servers[stream]
            self.order.remove(stream)
        else:
            assert kind == "AllServersDeleted", node
            assert node["deletedIds"] == self.order, node
            self.servers.clear()
            self.order.clear()
        if kind != "ServerChanged":
            self.version += 1
        codes = [s["code"] for s in self.servers.values()]
        assert len(codes) == len(set(codes)), f"codes not unique after {node}"

    def listed(self) -> Json:
        items = [{**copy.deepcopy(self.servers[i]), "position": n} for n, i in enumerate(self.order, start=1)]
        return {"version": self.version, "totalCount": len(items), "items": items}


def fold(nodes: Iterable[Json], start: Folded | None = None) -> Folded:
    state = start or Folded()
    for node in nodes:
        state.apply(node)
    return state


def differences(actual: Json, expected: Json) -> list[str]:
    """How two MailServerLists differ, field by field (empty when they are equal)."""
    found = [
        f"{key}: {actual[key]!r} != {expected[key]!r}"
        for key in ("version", "totalCount")
        if actual[key] != expected[key]
    ]
    mine, theirs = comparable(actual["items"]), comparable(expected["items"])
    if [s["id"] for s in mine] != [s["id"] for s in theirs]:
        found.append(f"ids: {[s['id'] for s in mine]} != {[s['id'] for s in theirs]}")
    for a, e in zip(mine, theirs, strict=False):
        for key in sorted(set(a) | set(e)):
            if a.get(key) != e.get(key):
                found.append(f"{a.get('id')} {key}: {a.get(key)!r} != {e.get(key)!r}")
    return found


def same_list(actual: Json, expected: Json) -> bool:
    return not differences(actual, expected)
