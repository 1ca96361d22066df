"""Subscriptions on a real `mailreg serve` over graphql-transport-ws, driven by
the third-party `gql` client and, for the protocol's edges, by raw websockets."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
import jwt
import pytest
import websockets
from gql import Client, GraphQLRequest
from gql.transport.exceptions import TransportConnectionFailed, TransportQueryError
from gql.transport.websockets import WebsocketsTransport
from websockets.exceptions import ConnectionClosed

from api.auth import issue
from api.outbox import BEHIND_LIMIT, TOO_SLOW
from tests.e2e.live import (
    ADMIN,
    CHOICES_SUBSCRIPTION,
    EVENTS_SUBSCRIPTION,
    GRAPHQL_TRANSPORT_WS,
    Api,
    Json,
    ProtocolError,
    Socket,
    fresh_database,
    manual,
    processes,
)
from tests.support import token

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

CLERK = token("clerk", roles=["user"])


@dataclass
class Server:
    api: Api
    ws_url: str


@pytest.fixture(scope="module")
async def server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Server]:
    async with (
        fresh_database() as url,
        processes(1, url, tmp_path_factory.mktemp("protocol")) as (process,),
        httpx.AsyncClient(base_url=process.url, timeout=10) as http,
    ):
        yield Server(api=Api(http), ws_url=process.ws_url)


def gql_client(server: Server, bearer: str = ADMIN) -> Client:
    transport = WebsocketsTransport(
        url=server.ws_url,
        subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL],
        init_payload={"authorization": f"Bearer {bearer}"},
    )
    return Client(transport=transport, fetch_schema_from_transport=False)


async def collect(subscription: AsyncIterator[Json], count: int) -> list[Json]:
    results = []
    for _ in range(count):
        results.append(await asyncio.wait_for(anext(subscription), 10))
    return results


async def test_gql_receives_the_events_after_a_cursor_then_live_ones_with_their_typed_fields(server: Server):
    api = server.api
    tokyo = await api.add(manual("tokyo"))
    as_of = (await api.events())[-1]["position"]
    osaka = await api.add(manual("osaka"))
    request = GraphQLRequest(EVENTS_SUBSCRIPTION, variable_values={"after": as_of})
    async with gql_client(server) as session:
        stream = session.subscribe(request)
        (replayed,) = await collect(stream, 1)
        await api.mutate("changeMailServer", {"id": osaka["id"], "outgoing": {"encryption": "STARTTLS"}})
        await api.mutate("reorderMailServers", {"ids": [osaka["id"], tokyo["id"]]})
        await api.mutate("deleteMailServer", {"id": tokyo["id"]}, headers={"X-Request-ID": "req-delete"})
        live = await collect(stream, 3)
        await stream.aclose()
    received = [result["mailServerEvents"] for result in [replayed, *live]]
    assert received == await api.events(after=as_of)
    added, changed, reordered, deleted = received
    assert (added["type"], added["server"]) == ("ServerAdded", osaka)
    assert changed["changes"] == [{"field": "outgoing.encryption", "before": "NONE", "after": "STARTTLS"}]
    assert (reordered["before"], reordered["after"]) == ([tokyo["id"], osaka["id"]], [osaka["id"], tokyo["id"]])
    assert (deleted["code"], deleted["name"], deleted["correlationId"]) == ("tokyo", tokyo["name"], "req-delete")
    assert {event["actor"] for event in received} == {"admin-user"}


async def test_without_a_cursor_a_subscriber_gets_what_is_committed_from_then_on(server: Server):
    api = server.api
    server_id = (await api.add(manual("nagoya")))["id"]
    async with Socket.open(server.ws_url) as socket:
        await socket.subscribe("subscription { mailServerEvents { position type streamId } }")
        # When the subscription is live is not observable: change until one arrives.
        for attempt in range(50):
            await api.mutate("changeMailServer", {"id": server_id, "name": f"Nagoya {attempt}"})
            try:
                first = (await socket.next(within=0.3))["mailServerEvents"]
                break
            except TimeoutError:
                continue
        else:
            pytest.fail("no event arrived on a subscription without a cursor")
        for number in range(3):
            await api.mutate("changeMailServer", {"id": server_id, "name": f"Nagoya live {number}"})
        expected = await api.events(after=first["position"])
        rest = [(await socket.next())["mailServerEvents"] for _ in expected]
        with pytest.raises(TimeoutError):
            await socket.next(within=0.5)
    assert len(expected) >= 3
    assert rest == [{key: e[key] for key in ("position", "type", "streamId")} for e in expected]


async def test_a_signed_in_non_admin_gets_the_choices_at_once_and_after_each_change(server: Server):
    api = server.api
    await api.mutate("deleteAllMailServers", None)
    kyoto = await api.add(manual("kyoto", "Kyoto"))
    async with gql_client(server, CLERK) as session:
        stream = session.subscribe(GraphQLRequest(CHOICES_SUBSCRIPTION))
        (now,) = await collect(stream, 1)
        assert now == {"mailServerChoicesChanged": [{"id": kyoto["id"], "code": "kyoto", "name": "Kyoto"}]}
        kobe = await api.add(manual("kobe", "Kobe"))
        (added,) = await collect(stream, 1)
        await api.mutate("changeMailServer", {"id": kobe["id"], "name": "Kobe port"})
        (renamed,) = await collect(stream, 1)
        await api.mutate("reorderMailServers", {"ids": [kobe["id"], kyoto["id"]]})
        (reordered,) = await collect(stream, 1)
        await api.mutate("deleteAllMailServers", None)
        (emptied,) = await collect(stream, 1)
        await stream.aclose()
    choice = {
        "kyoto": {"id": kyoto["id"], "code": "kyoto", "name": "Kyoto"},
        "kobe": {"id": kobe["id"], "code": "kobe", "name": "Kobe"},
    }
    assert added["mailServerChoicesChanged"] == [choice["kyoto"], choice["kobe"]]
    assert renamed["mailServerChoicesChanged"] == [choice["kyoto"], {**choice["kobe"], "name": "Kobe port"}]
    assert reordered["mailServerChoicesChanged"] == [{**choice["kobe"], "name": "Kobe port"}, choice["kyoto"]]
    assert emptied["mailServerChoicesChanged"] == []


async def test_gql_reports_forbidden_to_a_non_admin_subscribing_to_events(server: Server):
    async with gql_client(server, CLERK) as session:
        with pytest.raises(TransportQueryError) as raised:
            async for _ in session.subscribe(GraphQLRequest(EVENTS_SUBSCRIPTION)):
                pass
    assert [e["extensions"]["code"] for e in raised.value.errors or []] == ["FORBIDDEN"]


async def error_message(server: Server, bearer: str, query: str, variables: Json | None = None) -> Json:
    """The `error` message the server answers a subscribe with; the socket stays open."""
    async with Socket.open(server.ws_url, bearer) as socket:
        await socket.subscribe(query, variables)
        message = await socket.receive()
        assert message["type"] == "error" and message["id"] == "1", message
        await socket.send({"type": "ping"})
        assert json.loads(await asyncio.wait_for(socket.ws.recv(), 5))["type"] == "pong"
    return message


async def test_a_non_admin_subscribing_to_events_gets_an_error_message_carrying_forbidden(server: Server):
    message = await error_message(server, CLERK, "subscription { mailServerEvents { position } }")
    assert [e["extensions"]["code"] for e in message["payload"]] == ["FORBIDDEN"]


@pytest.mark.parametrize("after", ["999999", "0", "abc", ""])
async def test_an_unknown_cursor_gets_an_error_message_carrying_bad_user_input(server: Server, after: str):
    await server.api.add(manual(f"cursor-{after or 'empty'}"))
    message = await error_message(
        server,
        ADMIN,
        "subscription E($after: String) { mailServerEvents(after: $after) { position } }",
        {"after": after},
    )
    assert [e["extensions"]["code"] for e in message["payload"]] == ["BAD_USER_INPUT"]


BAD_INIT: dict[str, Any] = {
    "garbage token": {"authorization": "Bearer not-a-jwt"},
    "wrong secret": {"authorization": "Bearer " + issue("another-secret-that-is-long-enough-too!", "a", ["admin"])},
    "alg none": {"authorization": "Bearer " + jwt.encode({"sub": "a", "roles": ["admin"]}, None, algorithm="none")},
    "expired": {"authorization": f"Bearer {token(ttl=-60)}"},
    "no authorization": {},
    "not a bearer": {"authorization": ADMIN},
}


@pytest.mark.parametrize("payload", list(BAD_INIT.values()), ids=list(BAD_INIT))
async def test_a_bad_token_gets_the_socket_closed_with_4403_after_connection_init(server: Server, payload: Json):
    async with websockets.connect(server.ws_url, subprotocols=["graphql-transport-ws"], open_timeout=5) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": payload}))
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 5)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403


async def test_gql_cannot_connect_with_a_bad_token(server: Server):
    with pytest.raises(TransportConnectionFailed) as raised:
        async with gql_client(server, "not-a-jwt"):
            pass
    closed = raised.value.__cause__
    assert isinstance(closed, websockets.ConnectionClosed) and closed.rcvd is not None
    assert closed.rcvd.code == 4403


async def test_the_legacy_graphql_ws_protocol_is_refused(server: Server):
    try:
        async with websockets.connect(server.ws_url, subprotocols=["graphql-ws"], open_timeout=5) as ws:
            assert ws.subprotocol != "graphql-ws"
            with pytest.raises(websockets.ConnectionClosed):  # closed at once, maybe before our first message
                await ws.send(json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {ADMIN}"}}))
                answer = await asyncio.wait_for(ws.recv(), 5)
                raise ProtocolError(f"the legacy protocol got an answer: {answer}")
    except websockets.InvalidStatus:
        pass  # refusing the upgrade outright is a refusal too


async def test_gql_speaking_only_the_legacy_protocol_cannot_connect(server: Server):
    transport = WebsocketsTransport(
        url=server.ws_url,
        subprotocols=[WebsocketsTransport.APOLLO_SUBPROTOCOL],
        init_payload={"authorization": f"Bearer {ADMIN}"},
        ack_timeout=5,
    )
    with pytest.raises(TransportConnectionFailed):
        async with Client(transport=transport, fetch_schema_from_transport=False):
            pass


# A subscriber that stops reading holds up nobody: once it is more than api/outbox.py's BEHIND_LIMIT frames
# behind, its socket is closed with 4008 and it resumes with `after`. The stalled client's receive buffer is
# tiny, so the server's writes back up as they would to a stalled client on a slow network, and its socket
# carries SUBSCRIPTIONS subscriptions, so that the kernel's send buffer (up to 4 MB on loopback) fills within a
# few hundred events and the rest of the backlog is the outbox's.
SUBSCRIPTIONS = 50
CHANGES = BEHIND_LIMIT + 500  # the limit, plus what the kernel's buffers hold of SUBSCRIPTIONS frames per event
RENAME = "mutation($id: ID!, $name: String!) { changeMailServer(input: {id: $id, name: $name}) { errors { code } } }"


def stalled_socket(ws_url: str) -> socket.socket:
    """A connected TCP socket with a receive buffer of a few KB, set before connecting so the window stays small."""
    parts = urlsplit(ws_url)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect((parts.hostname or "127.0.0.1", parts.port or 80))
    return sock


async def rename_many(api: Api, server_id: str, count: int) -> None:
    """`count` renames, eight at a time, each one event."""
    names = iter(range(count))

    async def worker() -> None:
        for n in names:
            data = await api.data(RENAME, {"id": server_id, "name": f"Slow reader {n}"})
            assert data["changeMailServer"]["errors"] == []

    await asyncio.gather(*(worker() for _ in range(8)))


async def test_a_subscriber_that_stops_reading_is_closed_with_4008_and_resumes_with_after_missing_nothing(
    server: Server,
):
    api = server.api
    target = await api.add(manual("slow-reader"))
    start = (await api.events())[-1]["position"]
    async with (
        websockets.connect(
            server.ws_url,
            sock=stalled_socket(server.ws_url),
            subprotocols=[GRAPHQL_TRANSPORT_WS],
            max_queue=1,  # the client library itself stops reading after one unread message
            max_size=None,
            open_timeout=5,
            close_timeout=2,
        ) as slow,
        Socket.open(server.ws_url) as steady,
    ):
        await slow.send(json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {ADMIN}"}}))
        assert json.loads(await slow.recv())["type"] == "connection_ack"
        subscribe = {"query": EVENTS_SUBSCRIPTION, "variables": {"after": start}}
        for n in range(SUBSCRIPTIONS):
            await slow.send(json.dumps({"id": f"slow-{n}", "type": "subscribe", "payload": subscribe}))
        await steady.subscribe(EVENTS_SUBSCRIPTION, {"after": start})

        await rename_many(api, target["id"], CHANGES)

        # The subscriber that reads gets every event, in order, while the other one lags.
        steady_positions = [int((await steady.next())["mailServerEvents"]["position"]) for _ in range(CHANGES)]
        assert steady_positions == sorted(steady_positions)
        assert len(set(steady_positions)) == CHANGES

        # The stalled one, reading at last: what was on its way, then the close.
        read: dict[str, list[int]] = {f"slow-{n}": [] for n in range(SUBSCRIPTIONS)}
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                message = json.loads(await asyncio.wait_for(slow.recv(), 10))
                if message["type"] == "ping":
                    continue
                assert message["type"] == "next", message
                read[message["id"]].append(int(message["payload"]["data"]["mailServerEvents"]["position"]))
        assert closed.value.rcvd is not None and closed.value.rcvd.code == TOO_SLOW
        for positions in read.values():
            assert len(positions) < CHANGES
            assert positions == steady_positions[: len(positions)]  # a prefix: nothing skipped before the close

    # It resumes after the last event it read, and gets exactly the rest.
    got = read["slow-0"]
    async with Socket.open(server.ws_url) as resumed:
        await resumed.subscribe(EVENTS_SUBSCRIPTION, {"after": str(got[-1]) if got else start})
        rest = [int((await resumed.next())["mailServerEvents"]["position"]) for _ in range(CHANGES - len(got))]
    assert got + rest == steady_positions
