"""Logs and metrics an operator can use, on a real `mailreg serve`: every line written
while a request is served carries its request id, whoever wrote it (mailreg, SQLAlchemy,
uvicorn); MAILREG_LOG_LEVEL chooses how much is written; /metrics has the standard
process and GC series and counts the responses refused before GraphQL ran."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import websockets
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.conftest import sqlite_url
from tests.e2e.hardening import ADMIN, GRAPHQL_TRANSPORT_WS, json_lines
from tests.e2e.live import LiveServer

pytestmark = pytest.mark.slow


def serve(folder: Any, **env: str) -> LiveServer:
    server = LiveServer(
        database_url=sqlite_url(folder), data_dir=folder, extra_env={"MAILREG_LOG_FORMAT": "json", **env}
    )
    return server.start(timeout=45)


@pytest.fixture(scope="module")
def chatty(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    server = serve(tmp_path_factory.mktemp("debug"), MAILREG_LOG_LEVEL="debug")
    yield server
    server.stop()


def lines_of(server: LiveServer, request_id: str, within: float = 5.0) -> list[dict[str, Any]]:
    deadline = time.monotonic() + within
    while True:
        found = [line for line in json_lines(server.output) if line.get("request_id") == request_id]
        if any(line["logger"] == "mailreg.http" for line in found) or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def test_sql_and_our_own_lines_of_a_request_carry_its_request_id(chatty: LiveServer):
    given = f"trace-{uuid.uuid4().hex}"
    response = httpx.post(
        f"{chatty.url}/graphql",
        json={"query": "{ mailServers { totalCount } }"},
        headers={"Authorization": f"Bearer {ADMIN}", "X-Request-ID": given},
    )
    assert response.status_code == 200

    loggers = {line["logger"] for line in lines_of(chatty, given)}
    assert {"mailreg.http", "mailreg.graphql"} <= loggers, loggers
    assert any(name.startswith("sqlalchemy.engine") for name in loggers), loggers


async def test_uvicorns_lines_of_a_websocket_carry_its_request_id(chatty: LiveServer):
    given = f"socket-{uuid.uuid4().hex}"
    async with websockets.connect(
        chatty.ws_url, subprotocols=[GRAPHQL_TRANSPORT_WS], additional_headers={"X-Request-ID": given}
    ) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {ADMIN}"}}))
        assert json.loads(await ws.recv())["type"] == "connection_ack"

    deadline = time.monotonic() + 5
    while not any(
        line["logger"].startswith("uvicorn") and line.get("request_id") == given for line in json_lines(chatty.output)
    ):
        assert time.monotonic() < deadline, "".join(chatty.output[-20:])
        await asyncio.sleep(0.1)


def test_at_log_level_warning_requests_are_not_logged(tmp_path_factory: pytest.TempPathFactory):
    server = serve(tmp_path_factory.mktemp("quiet"), MAILREG_LOG_LEVEL="warning")
    try:
        given = f"quiet-{uuid.uuid4().hex}"
        httpx.post(
            f"{server.url}/graphql",
            json={"query": "{ mailServers { totalCount } }"},
            headers={"Authorization": f"Bearer {ADMIN}", "X-Request-ID": given},
        )
        time.sleep(1)
        assert [line for line in json_lines(server.output) if line.get("request_id") == given] == []
        assert all(line["level"] in ("warning", "error", "critical") for line in json_lines(server.output))
    finally:
        server.stop()


def samples(server: LiveServer) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = httpx.get(f"{server.url}/metrics").text
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_metrics_have_the_process_and_gc_series_and_count_refused_requests(chatty: LiveServer):
    def refused(status: str) -> float:
        key = ("mailreg_http_responses_total", (("path", "/graphql"), ("status", status)))
        return samples(chatty).get(key, 0.0)

    before = {status: refused(status) for status in ("400", "413", "415")}
    url = f"{chatty.url}/graphql"
    assert httpx.post(url, content=b"{not json", headers={"content-type": "application/json"}).status_code == 400
    assert (
        httpx.post(url, content=b"{}" + b" " * (2 << 20), headers={"content-type": "application/json"}).status_code
        == 413
    )
    assert httpx.post(url, content=b"query", headers={"content-type": "text/plain"}).status_code == 415

    after = {status: refused(status) for status in ("400", "413", "415")}
    assert {status: after[status] - before[status] for status in after} == {"400": 1, "413": 1, "415": 1}
    names = {name for name, _ in samples(chatty)}
    assert {
        "process_cpu_seconds_total",
        "process_resident_memory_bytes",
        "python_gc_collections_total",
        "python_info",
    } <= names
