"""CORS on a real `mailreg serve` with MAILREG_CORS_ORIGINS: an allowed origin's
preflight and request succeed with the CORS headers, another origin's do not, and
a websocket handshake from another origin is refused."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import websockets

from tests.e2e.conftest import sqlite_url
from tests.e2e.hardening import ADMIN, GRAPHQL_TRANSPORT_WS, in_process
from tests.e2e.live import LiveServer

pytestmark = pytest.mark.slow

ALLOWED = "https://office.example.com"
REFUSED = "https://evil.example.net"
QUERY = {"query": "{ mailServers { totalCount } }"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    folder = tmp_path_factory.mktemp("cors")
    live = LiveServer(
        database_url=sqlite_url(folder),
        data_dir=folder,
        extra_env={"MAILREG_CORS_ORIGINS": f"{ALLOWED}, https://other.example.com"},
    )
    live.start(timeout=45)
    yield live
    live.stop()


def preflight(server: LiveServer, origin: str) -> httpx.Response:
    return httpx.options(
        f"{server.url}/graphql",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )


def post(server: LiveServer, origin: str) -> httpx.Response:
    return httpx.post(
        f"{server.url}/graphql", json=QUERY, headers={"Origin": origin, "Authorization": f"Bearer {ADMIN}"}
    )


def test_an_allowed_origin_passes_the_preflight_and_may_read_the_answer(server: LiveServer):
    checked = preflight(server, ALLOWED)
    answered = post(server, ALLOWED)

    assert checked.status_code == 200
    assert checked.headers["access-control-allow-origin"] == ALLOWED
    assert "POST" in checked.headers["access-control-allow-methods"]
    assert "authorization" in checked.headers["access-control-allow-headers"].lower()
    assert answered.status_code == 200 and answered.json() == {"data": {"mailServers": {"totalCount": 0}}}
    assert answered.headers["access-control-allow-origin"] == ALLOWED
    assert "x-request-id" in answered.headers["access-control-expose-headers"].lower()


def test_another_origin_fails_the_preflight_and_gets_no_cors_headers(server: LiveServer):
    checked = preflight(server, REFUSED)
    answered = post(server, REFUSED)

    assert checked.status_code == 400
    assert "access-control-allow-origin" not in checked.headers
    assert "access-control-allow-origin" not in answered.headers


async def handshake(server: LiveServer, origin: str | None) -> dict[str, object]:
    async with websockets.connect(
        server.ws_url,
        subprotocols=[GRAPHQL_TRANSPORT_WS],
        origin=origin,
        open_timeout=10,
    ) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {ADMIN}"}}))
        ack: dict[str, object] = json.loads(await ws.recv())
        return ack


async def test_a_websocket_from_an_allowed_origin_or_with_no_origin_is_admitted(server: LiveServer):
    assert (await handshake(server, ALLOWED))["type"] == "connection_ack"
    assert (await handshake(server, None))["type"] == "connection_ack"
    assert (await handshake(server, f"http://127.0.0.1:{server.port}"))["type"] == "connection_ack"


async def test_a_websocket_from_another_origin_is_refused_at_the_handshake(server: LiveServer):
    with pytest.raises(websockets.InvalidStatus) as refused:
        await handshake(server, REFUSED)

    assert refused.value.response.status_code == 403


async def test_by_default_no_other_origin_is_allowed(tmp_path: Path):
    async with in_process(sqlite_url(tmp_path), tmp_path) as site:
        checked = await site.http.options(
            "/graphql",
            headers={"Origin": ALLOWED, "Access-Control-Request-Method": "POST"},
        )
        answered = await site.post({"query": "{ __typename }"}, headers={"Origin": ALLOWED})

    assert checked.status_code == 400 and "access-control-allow-origin" not in checked.headers
    assert answered.status_code == 200 and "access-control-allow-origin" not in answered.headers
