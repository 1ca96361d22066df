"""Fan-out on a real `mailreg serve`: subscribers of one document share one
execution and one serialized frame, yet each gets only what its own role,
language and request allow, and one that stops reading holds up nobody else."""

from __future__ import annotations

import asyncio
import json
import re
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import pytest
import websockets

from tests.e2e.live import (
    ADMIN,
    EVENTS_SUBSCRIPTION,
    GRAPHQL_TRANSPORT_WS,
    Api,
    Json,
    fresh_database,
    manual,
    processes,
)
from tests.support import token

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

CLERK = token("clerk", roles=["user"])
CHOICES = "subscription Choices { mailServerChoicesChanged { id code name } }"


@dataclass
class Server:
    api: Api
    url: str
    ws_url: str


@pytest.fixture(scope="module")
async def server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Server]:
    async with (
        fresh_database() as url,
        processes(1, url, tmp_path_factory.mktemp("fanout")) as (process,),
        httpx.AsyncClient(base_url=process.url, timeout=10) as http,
    ):
        yield Server(api=Api(http), url=process.url, ws_url=process.ws_url)


class Raw:
    """A graphql-transport-ws connection that keeps each message's exact text."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws

    @classmethod
    @asynccontextmanager
    async def open(
        cls, url: str, bearer: str = ADMIN, headers: dict[str, str] | None = None, **options: Any
    ) -> AsyncIterator[Raw]:
        async with websockets.connect(
            url,
            subprotocols=[GRAPHQL_TRANSPORT_WS],
            additional_headers=headers or {},
            open_timeout=5,
            close_timeout=2,
            max_size=None,
            **options,
        ) as ws:
            raw = cls(ws)
            await ws.send(json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {bearer}"}}))
            assert json.loads(await raw.text())["type"] == "connection_ack"
            yield raw

    async def text(self, within: float = 10.0) -> str:
        while True:
            message: str = await asyncio.wait_for(self.ws.recv(), within)
            if '"type":"ping"' not in message:
                return message
            await self.ws.send('{"type":"pong"}')

    async def subscribe(self, id: str, query: str, variables: Json | None = None) -> None:
        payload = {"query": query, "variables": variables or {}}
        await self.ws.send(json.dumps({"id": id, "type": "subscribe", "payload": payload}))

    async def texts(self, count: int) -> list[str]:
        return [await self.text() for _ in range(count)]


def data(text: str, id: str) -> Json:
    message = json.loads(text)
    assert (message["id"], message["type"]) == (id, "next") and "errors" not in message["payload"], message
    result: Json = message["payload"]["data"]
    return result


async def test_two_subscribers_of_one_document_receive_byte_identical_frames(server: Server):
    api = server.api
    await api.add(manual("fan-first"))
    after = (await api.events())[-1]["position"]
    variables = {"after": after}
    async with (
        Raw.open(server.ws_url) as one,
        Raw.open(server.ws_url) as two,
        Raw.open(server.ws_url) as other_id,
    ):
        await one.subscribe("1", EVENTS_SUBSCRIPTION, variables)
        await two.subscribe("1", EVENTS_SUBSCRIPTION, variables)
        await other_id.subscribe("sub-7", EVENTS_SUBSCRIPTION, variables)
        osaka = await api.add(manual("fan-osaka", "Osaka 大阪"))
        await api.mutate("changeMailServer", {"id": osaka["id"], "outgoing": {"encryption": "STARTTLS"}})
        await api.mutate("deleteMailServer", {"id": osaka["id"]})
        first, second, third = await one.texts(3), await two.texts(3), await other_id.texts(3)
    assert first == second
    assert third == [text.replace('{"id":"1",', '{"id":"sub-7",', 1) for text in first]
    assert [data(text, "1")["mailServerEvents"] for text in first] == await api.events(after=after)


async def test_a_non_admin_never_receives_what_an_admin_group_is_sent(server: Server):
    api = server.api
    tokyo = await api.add(manual("fan-tokyo", "Tokyo"))
    after = {"after": (await api.events())[-1]["position"]}  # whenever it goes live, it misses nothing
    async with Raw.open(server.ws_url) as admin, Raw.open(server.ws_url, CLERK) as clerk:
        await admin.subscribe("e", EVENTS_SUBSCRIPTION, after)
        await admin.subscribe("c", CHOICES)
        await clerk.subscribe("c", CHOICES)
        await clerk.subscribe("e", EVENTS_SUBSCRIPTION, after)
        clerk_first = [json.loads(text) for text in await clerk.texts(2)]
        assert {(m["id"], m["type"]) for m in clerk_first} == {("c", "next"), ("e", "error")}, clerk_first
        refused = next(m for m in clerk_first if m["id"] == "e")
        assert [e["extensions"]["code"] for e in refused["payload"]] == ["FORBIDDEN"]
        assert json.loads(await admin.text())["id"] == "c"  # the choices now
        admin_later: list[Json] = []
        clerk_later: list[Json] = []
        for number in range(2):  # one change at a time: the choices of quick changes may be conflated
            await api.mutate("changeMailServer", {"id": tokyo["id"], "name": f"Tokyo {number}"})
            admin_later += [json.loads(text) for text in await admin.texts(2)]
            clerk_later += [json.loads(text) for text in await clerk.texts(1)]
    assert sorted(m["id"] for m in admin_later) == ["c", "c", "e", "e"]
    assert [(m["id"], m["type"]) for m in clerk_later] == [("c", "next"), ("c", "next")]
    assert [m["payload"]["data"] for m in clerk_later] == [m["payload"]["data"] for m in admin_later if m["id"] == "c"]


async def test_each_subscriber_of_a_failing_group_gets_the_error_under_its_own_request_id(
    tmp_path_factory: pytest.TempPathFactory,
):
    """The read model's table is gone: the choices cannot be read. Subscribers of
    one document and of other languages and roles each get a masked error that
    names their own request, never another's."""
    async with fresh_database() as url, processes(1, url, tmp_path_factory.mktemp("broken")) as (process,):
        connection = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
        try:
            await connection.execute("DROP TABLE servers CASCADE")
        finally:
            await connection.close()
        callers = {
            "same-doc-a": (ADMIN, "en"),
            "same-doc-b": (ADMIN, "en"),
            "japanese": (ADMIN, "ja"),
            "clerk": (CLERK, "en"),
        }
        errors: dict[str, Json] = {}
        for request_id, (bearer, language) in callers.items():
            headers = {"X-Request-ID": request_id, "Accept-Language": language}
            async with Raw.open(process.ws_url, bearer, headers) as raw:
                await raw.subscribe("1", CHOICES)
                message = json.loads(await raw.text())
                assert (message["id"], message["type"]) == ("1", "next"), message
                (errors[request_id],) = message["payload"]["errors"]
    for request_id, error in errors.items():
        assert error["extensions"]["requestId"] == request_id, error
        assert re.search(rf"\(request id {re.escape(request_id)}\)\.$", error["message"]), error


def tiny_receive_buffer(ws_url: str) -> socket.socket:
    """A connected socket whose receive window is as small as the kernel allows."""
    host, port = re.match(r"ws://([^:/]+):(\d+)", ws_url).groups()  # type: ignore[union-attr]
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect((host, int(port)))
    sock.setblocking(False)
    return sock


# Fifty copies of each event's payload make every frame about 50 KB, so that
# 200 of them overflow what the kernel (4 MB at most) and the server's transport buffer.
WIDE = (
    "subscription Wide($after: String) { mailServerEvents(after: $after) { position "
    + " ".join(f"a{n}: data" for n in range(49))
    + " ... on ServerAdded { server { id code name outgoing { host } incoming { host } } } } }"
)
WRITES = 200


async def queued_frames(server: Server) -> float:
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        text = (await http.get("/metrics")).text
    return float(re.search(r"^mailreg_subscription_frames_queued (\S+)$", text, re.M)[1])  # type: ignore[index]


async def test_a_subscriber_that_stops_reading_does_not_hold_up_the_others_of_its_group(server: Server):
    api = server.api
    long = ".".join(letter * 60 for letter in "abc")
    async with (
        Raw.open(server.ws_url, sock=tiny_receive_buffer(server.ws_url), max_queue=1) as slow,
        Raw.open(server.ws_url) as fast,
    ):
        await api.add(manual("wide-start"))
        after = {"after": (await api.events())[-1]["position"]}
        await slow.subscribe("1", WIDE, after)
        await fast.subscribe("1", WIDE, after)
        added = []
        for number in range(WRITES):
            host = f"{long}.n{number}.example.com"
            wide = manual(f"wide-{number}", f"{'x' * 90} {number}")
            wide["outgoing"]["host"] = wide["incoming"]["host"] = host
            added.append(await api.add(wide))
        # The fast one gets every event while the slow one reads nothing ...
        received = [data(text, "1")["mailServerEvents"] for text in await fast.texts(WRITES)]
        assert [event["server"]["id"] for event in received] == [server["id"] for server in added]
        # ... and meanwhile the slow one's frames wait at the server, not in the group.
        assert await queued_frames(server) > 0
        # Once it reads again, it gets everything, in order.
        late = [data(text, "1")["mailServerEvents"] for text in await slow.texts(WRITES)]
        assert late == received
    assert await queued_frames(server) == 0
