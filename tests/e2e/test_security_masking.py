"""Unexpected errors are masked (a generic message naming the request id,
extensions.code INTERNAL_SERVER_ERROR, no stack trace or SQL), over HTTP and on
subscriptions, while the log keeps the detail. Provoked on a real `mailreg
serve` whose `servers` table has been dropped."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

import asyncpg
import httpx
import pytest

from tests.e2e.hardening import (
    ADMIN,
    Fleet,
    LiveServer,
    Socket,
    fleet,  # noqa: F401 - fixture
    fleet_warmup,  # noqa: F401 - fixture
)

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

DETAIL = 'relation "servers" does not exist'
LEAKS = ("Traceback", "servers", "SELECT", "relation", "sqlalchemy", "asyncpg", 'File "')
ADD = (
    'mutation { addMailServer(input: {code: "masked", name: "Masked", outgoing: {host: "smtp.example.com", '
    'port: 25}, incoming: {protocol: POP3, host: "pop.example.com", port: 110}}) { errors { code } } }'
)


@pytest.fixture(scope="module")
async def broken(fleet: Fleet) -> LiveServer:  # noqa: F811
    """The doomed server, its read model's table gone before it ever loaded it."""
    server = fleet.doomed
    connection = await asyncpg.connect(server.database_url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await connection.execute("DROP TABLE IF EXISTS servers CASCADE")
    finally:
        await connection.close()
    return server


def assert_masked(error: dict[str, Any], request_id: str) -> None:
    assert error["message"] == f"Internal server error (request id {request_id}).", error
    assert error["extensions"] == {"code": "INTERNAL_SERVER_ERROR", "requestId": request_id}, error
    text = json.dumps(error)
    assert not [leak for leak in LEAKS if leak in text], error


def detail_logged(server: LiveServer, request_id: str) -> list[str]:
    """Output lines that name the request id and carry the database's own words."""
    server.wait_for_output(re.escape(request_id) + ".*" + re.escape(DETAIL.replace('"', '\\"')), timeout=10)
    return [line for line in server.output if request_id in line and DETAIL.replace('"', '\\"') in line]


async def test_an_unexpected_error_in_a_mutation_is_masked_and_the_log_keeps_the_detail(broken: LiveServer):
    async with httpx.AsyncClient(base_url=broken.url, timeout=10) as http:
        for given in (f"mask-{uuid.uuid4().hex}", None):
            headers = {"Authorization": f"Bearer {ADMIN}"} | ({"X-Request-ID": given} if given else {})
            response = await http.post("/graphql", json={"query": ADD}, headers=headers)
            request_id = response.headers["x-request-id"]
            assert given is None or request_id == given
            assert response.status_code == 200, response.text
            body = response.json()
            assert body["data"] is None and len(body["errors"]) == 1, body
            assert_masked(body["errors"][0], request_id)
            assert detail_logged(broken, request_id)


async def test_an_unexpected_error_in_a_subscription_is_masked(broken: LiveServer):
    async with Socket.signed_in(broken.ws_url) as socket:
        await socket.subscribe("1", "subscription { mailServerChoicesChanged { id } }")
        message = await socket.receive()
        assert (message["id"], message["type"]) == ("1", "next"), message
        payload = message["payload"]
        assert payload.get("data") is None and len(payload["errors"]) == 1, payload
        request_id = payload["errors"][0]["extensions"]["requestId"]
        assert_masked(payload["errors"][0], request_id)
        assert (await socket.receive())["type"] in ("complete", "error")
    assert detail_logged(broken, request_id)


async def test_an_unexpected_error_in_a_query_is_masked(broken: LiveServer):
    async with httpx.AsyncClient(base_url=broken.url, timeout=10) as http:
        request_id = f"mask-{uuid.uuid4().hex}"
        response = await http.post(
            "/graphql",
            json={"query": "{ mailServers { totalCount } }"},
            headers={"Authorization": f"Bearer {ADMIN}", "X-Request-ID": request_id},
        )
    assert response.status_code == 200 and response.headers.get("x-request-id") == request_id, response.text
    body = response.json()
    assert body.get("data") is None and len(body["errors"]) == 1, body
    assert_masked(body["errors"][0], request_id)
    assert detail_logged(broken, request_id)


async def test_the_logged_detail_carries_the_request_id_field(broken: LiveServer):
    request_id = f"mask-{uuid.uuid4().hex}"
    async with httpx.AsyncClient(base_url=broken.url, timeout=10) as http:
        await http.post(
            "/graphql", json={"query": ADD}, headers={"Authorization": f"Bearer {ADMIN}", "X-Request-ID": request_id}
        )
    detail_logged(broken, request_id)
    entries = [json.loads(line) for line in broken.output if line.startswith("{") and request_id in line]
    assert any(e.get("request_id") == request_id and DETAIL in e.get("error", "") for e in entries), entries
