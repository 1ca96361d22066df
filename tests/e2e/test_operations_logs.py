"""Structured logs of a real `mailreg serve` with MAILREG_LOG_FORMAT=json: one
JSON object a line, carrying request_id (X-Request-ID echoed, generated when
absent), actor, operation, outcome and duration, and never the token."""

from __future__ import annotations

import asyncio
import re
import uuid
from typing import Any

import httpx
import pytest

from tests.e2e.hardening import (
    ADMIN,
    Fleet,
    add,
    eventually,
    fleet,  # noqa: F401 - fixture
    fleet_warmup,  # noqa: F401 - fixture
    fresh,
    json_lines,
)
from tests.support import SECRET

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


async def test_json_logs_carry_request_id_actor_operation_outcome_duration_and_never_the_token(fleet: Fleet):  # noqa: F811
    server = fleet.shared
    start = len(server.output)
    given = f"ops-{uuid.uuid4().hex}"
    garbage = f"garbage-{uuid.uuid4().hex}"
    mutation = f"mutation {{ {add(fresh(), authMethod='PLAIN', credentials='SENDING_ACCOUNT')} }}"
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        added = await http.post(
            "/graphql", json={"query": mutation}, headers={"Authorization": f"Bearer {ADMIN}", "X-Request-ID": given}
        )
        fresh_read = f"query Q{uuid.uuid4().hex} {{ mailServers {{ totalCount }} }}"  # not in the response cache
        read = await http.post("/graphql", json={"query": fresh_read}, headers={"Authorization": f"Bearer {ADMIN}"})
        refused = await http.post(
            "/graphql", json={"query": "{ mailServers { totalCount } }"}, headers={"Authorization": f"Bearer {garbage}"}
        )
    assert added.json()["data"]["addMailServer"]["errors"] == [], added.text
    assert added.headers["x-request-id"] == given
    generated = read.headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", generated), generated
    assert refused.headers["x-request-id"] not in (given, generated)

    def lines_for(request_id: str) -> list[dict[str, Any]]:
        return [e for e in json_lines(server.output, start) if e.get("request_id") == request_id]

    async def all_logged() -> bool:
        return all(any("outcome" in e for e in lines_for(r.headers["x-request-id"])) for r in (added, read, refused))

    assert await eventually(all_logged), "".join(server.output[start:])
    entries = json_lines(server.output, start)
    assert entries, "no log lines"

    def operation_line(request_id: str) -> dict[str, Any]:
        (line,) = [e for e in lines_for(request_id) if "outcome" in e]
        assert isinstance(line["duration_ms"], (int, float)) and line["duration_ms"] >= 0, line
        return line

    assert {k: operation_line(given)[k] for k in ("actor", "operation", "outcome")} == {
        "actor": "admin-user",
        "operation": "addMailServer",
        "outcome": "ok",
    }
    assert {k: operation_line(generated)[k] for k in ("actor", "operation", "outcome")} == {
        "actor": "admin-user",
        "operation": "mailServers",
        "outcome": "ok",
    }
    refusal = operation_line(refused.headers["x-request-id"])
    assert (refusal["actor"], refusal["outcome"]) == (None, "unauthenticated"), refusal
    text = "".join(server.output[start:])
    for secret in (ADMIN, ADMIN.split(".")[2], SECRET, garbage, "Bearer", "SENDING_ACCOUNT"):
        assert secret not in text, f"{secret[:12]}... leaked into the log"


async def test_every_output_line_is_json_even_for_uvicorns_own_warnings(fleet: Fleet):  # noqa: F811
    server = fleet.shared
    start = len(server.output)
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(b"NOT HTTP AT ALL\r\n\r\n")
    await writer.drain()
    assert (await asyncio.wait_for(reader.read(100), 5)).startswith(b"HTTP/1.1 400")
    writer.close()
    await asyncio.sleep(0.5)
    json_lines(server.output, start)
