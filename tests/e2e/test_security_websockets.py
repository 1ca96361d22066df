"""Websocket hardening on a real `mailreg serve`: graphql-transport-ws only,
the connection_init timeout, the subscription cap and token expiry."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

import pytest
import websockets

from tests.e2e.hardening import (
    ADMIN,
    GRAPHQL_TRANSPORT_WS,
    Closed,
    Fleet,
    Socket,
    fleet,  # noqa: F401 - fixture
    fleet_warmup,  # noqa: F401 - fixture
)
from tests.support import token

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

CHOICES = "subscription { mailServerChoicesChanged { id code name } }"
EVENTS = "subscription { mailServerEvents { position type } }"


@pytest.fixture(scope="module", autouse=True)
async def idle(fleet: Fleet) -> AsyncIterator[asyncio.Task[tuple[Closed, float]]]:  # noqa: F811
    """A connection that never sends connection_init, opened when the module
    starts so that its 10 s run out while the other tests work; the task
    tells how it closed and after how many seconds."""
    async with Socket.connect(fleet.shared.ws_url) as socket:
        opened = time.monotonic()

        async def watch() -> tuple[Closed, float]:
            closed = await socket.closed(within=20)
            return closed, time.monotonic() - opened

        task = asyncio.create_task(watch())
        yield task
        task.cancel()


async def test_the_legacy_graphql_ws_protocol_is_refused(fleet: Fleet):  # noqa: F811
    async with Socket.connect(fleet.shared.ws_url, ["graphql-ws"]) as socket:
        assert socket.subprotocol is None
        with contextlib.suppress(websockets.ConnectionClosed):  # it may already have closed
            await socket.init(ADMIN)
        closed = await socket.closed()
    assert closed.code == 4406, closed
    assert closed.messages == []


async def test_a_client_offering_both_protocols_gets_graphql_transport_ws(fleet: Fleet):  # noqa: F811
    async with Socket.connect(fleet.shared.ws_url, ["graphql-ws", GRAPHQL_TRANSPORT_WS]) as socket:
        assert socket.subprotocol == GRAPHQL_TRANSPORT_WS
        await socket.init(ADMIN)
        assert (await socket.receive())["type"] == "connection_ack"


async def test_at_most_100_subscriptions_per_connection(fleet: Fleet):  # noqa: F811
    async with Socket.signed_in(fleet.shared.ws_url) as socket:
        for number in range(100):
            await socket.subscribe(str(number), CHOICES)
        first = {(await socket.receive())["id"] for _ in range(100)}
        assert first == {str(n) for n in range(100)}
        await socket.subscribe("100", CHOICES)
        refused = await socket.receive()
        assert (refused["id"], refused["type"]) == ("100", "error"), refused
        assert "limit" in refused["payload"][0]["message"].lower(), refused
        await socket.send({"id": "0", "type": "complete"})
        await socket.subscribe("101", CHOICES)
        admitted = await socket.receive()
        assert (admitted["id"], admitted["type"]) == ("101", "next"), admitted


async def test_a_subscription_ends_with_4403_when_its_token_expires(fleet: Fleet):  # noqa: F811
    bearer = token(ttl=2)
    started = time.monotonic()
    async with Socket.signed_in(fleet.shared.ws_url, bearer) as socket:
        await socket.subscribe("1", EVENTS)
        await socket.subscribe("2", CHOICES)
        closed: Closed = await socket.closed(within=8)
    assert (closed.code, closed.reason) == (4403, "token expired"), closed
    assert [m["id"] for m in closed.messages if m["type"] == "next"] == ["2"]
    assert time.monotonic() - started < 6


async def test_a_token_that_expired_before_connection_init_is_closed_with_4403(fleet: Fleet):  # noqa: F811
    async with Socket.connect(fleet.shared.ws_url) as socket:
        await socket.init(token(ttl=-60))  # past the 30 s clock leeway
        closed = await socket.closed()
    assert closed.code == 4403 and closed.messages == [], closed


async def test_a_client_that_never_sends_connection_init_is_closed_with_4408(idle: asyncio.Task[tuple[Closed, float]]):
    closed, after = await asyncio.wait_for(idle, 15)
    assert closed.code == 4408 and closed.messages == [], closed
    assert 9.5 <= after <= 13, after
