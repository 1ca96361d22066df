"""SIGTERM: the request in flight finishes (and its mutation is durable),
websockets are closed with 1001, and the process exits 0 within 10 s."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import websockets

from tests.e2e.eventlog import EventLog
from tests.e2e.live import ADMIN, LiveServer, Socket, manual
from tests.e2e.private_pg import START_WITHIN, announce, running_cluster

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

GOING_AWAY = 1001
EXIT_WITHIN = 10.0
ADD = "mutation A($input: AddMailServerInput!) { addMailServer(input: $input) { server { id code } errors { code } } }"


async def close_code(socket: Socket, within: float) -> int | None:
    """The code the server closes this websocket with (messages before it are skipped)."""
    try:
        while True:
            await asyncio.wait_for(socket.ws.recv(), within)
    except websockets.ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd is not None else None


async def trickled(body: bytes, release: asyncio.Event) -> AsyncIterator[bytes]:
    """A request body that arrives in two parts: the second only after `release`."""
    yield body[: len(body) // 2]
    await release.wait()
    yield body[len(body) // 2 :]


@dataclass
class Shutdown:
    close_codes: list[int | None]
    response: httpx.Response
    exit_status: int | None
    exited_after: float
    rows: list[Any]


@pytest.fixture(scope="module")
async def shutdown(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Shutdown:
    """SIGTERM while two websockets are open and a request is half-way through its body."""
    url = await running_cluster().create_database()
    server = LiveServer(database_url=url, data_dir=tmp_path_factory.mktemp("sigterm") / "serve")
    server.data_dir.mkdir()
    server.cli("migrate")
    await asyncio.to_thread(server.start, START_WITHIN)
    assert server.process is not None
    log = EventLog(url)
    release = asyncio.Event()
    body = json.dumps({"query": ADD, "variables": {"input": manual("in-flight-at-sigterm")}}).encode()
    headers = {"Authorization": f"Bearer {ADMIN}", "Content-Type": "application/json"}
    try:
        async with AsyncExitStack() as stack:
            events = await stack.enter_async_context(Socket.open(server.ws_url))
            await events.subscribe("subscription { mailServerEvents { position } }")
            choices = await stack.enter_async_context(Socket.open(server.ws_url))
            await choices.subscribe("subscription { mailServerChoicesChanged { id } }")
            assert await choices.next() == {"mailServerChoicesChanged": []}
            http = await stack.enter_async_context(httpx.AsyncClient(base_url=server.url, timeout=15))
            in_flight = asyncio.create_task(http.post("/graphql", content=trickled(body, release), headers=headers))
            await asyncio.sleep(1.0)  # the request has begun: headers and half its body are in
            assert not in_flight.done()

            server.process.send_signal(signal.SIGTERM)
            signalled = time.monotonic()
            codes = await asyncio.gather(close_code(events, EXIT_WITHIN), close_code(choices, EXIT_WITHIN))
            await asyncio.sleep(0.3)
            release.set()
            response = await asyncio.wait_for(in_flight, EXIT_WITHIN)
            try:
                exit_status: int | None = await asyncio.to_thread(server.process.wait, EXIT_WITHIN)
            except subprocess.TimeoutExpired:
                exit_status = None
            exited_after = time.monotonic() - signalled
        result = Shutdown(codes, response, exit_status, exited_after, await log.rows())
    finally:
        await asyncio.to_thread(server.stop, signal.SIGKILL)
        await log.dispose()
    announce(
        request,
        (
            f"faults/sigterm: 1 SIGTERM injected; 2 websockets closed with {codes}; the request in flight answered "
            f"HTTP {response.status_code}, {len(result.rows)} event checked in the log; exit status {exit_status} "
            f"after {exited_after:.2f}s"
        ),
    )
    return result


def test_the_request_in_flight_finishes_and_its_mutation_is_durable(shutdown: Shutdown) -> None:
    assert shutdown.response.status_code == 200, shutdown.response.text
    payload = shutdown.response.json()["data"]["addMailServer"]
    assert payload["errors"] == [] and payload["server"]["code"] == "in-flight-at-sigterm", shutdown.response.text
    assert [(row.type, row.stream_id) for row in shutdown.rows] == [("ServerAdded", payload["server"]["id"])]


def test_websockets_are_closed_with_1001(shutdown: Shutdown) -> None:
    assert shutdown.close_codes == [GOING_AWAY, GOING_AWAY]


def test_the_process_exits_within_10s(shutdown: Shutdown) -> None:
    assert shutdown.exit_status is not None and shutdown.exited_after < EXIT_WITHIN, shutdown.exited_after


def test_the_exit_status_is_0(shutdown: Shutdown) -> None:
    assert shutdown.exit_status == 0
