"""A subscriber that stops reading holds up nobody: once it is more than
api/outbox.py's BEHIND_LIMIT frames behind, its socket is closed with 4008,
and it resumes with `after` from the last event it read, missing nothing.
Against a real `mailreg serve` on PostgreSQL, with a client whose receive
buffer is tiny so that the server's writes back up as they would to a stalled
client on a slow network. The stalled socket carries SUBSCRIPTIONS
subscriptions, so that the kernel's send buffer (up to 4 MB on loopback)
fills within a few hundred events and the rest of the backlog is the outbox's."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx
import pytest
import websockets
from websockets.exceptions import ConnectionClosed

from api.outbox import BEHIND_LIMIT, TOO_SLOW
from tests.e2e.live import ADMIN, EVENTS_SUBSCRIPTION, Api, Socket, fresh_database, manual, processes

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

GRAPHQL_TRANSPORT_WS = "graphql-transport-ws"
SUBSCRIPTIONS = 50
CHANGES = BEHIND_LIMIT + 500  # the limit, plus what the kernel's buffers hold of SUBSCRIPTIONS frames per event
RENAME = "mutation($id: ID!, $name: String!) { changeMailServer(input: {id: $id, name: $name}) { errors { code } } }"


@dataclass
class Server:
    api: Api
    ws_url: str


@pytest.fixture(scope="module")
async def server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Server]:
    async with (
        fresh_database() as url,
        processes(1, url, tmp_path_factory.mktemp("slow")) as (process,),
        httpx.AsyncClient(base_url=process.url, timeout=10) as http,
    ):
        yield Server(api=Api(http), ws_url=process.ws_url)


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
