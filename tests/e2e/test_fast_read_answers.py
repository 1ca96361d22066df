"""A read answered before routing (api/fast_reads.py) carries what the same read
carried when GraphQL ran it: status, bytes, the same headers in the same order
(the CORS headers for every kind of origin, X-Request-ID), the metrics and one
log line under its request id, which stands for the access line too."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.conftest import sqlite_url
from tests.e2e.hardening import Harness, in_process
from tests.support import token

ALLOWED = "https://office.example.com"
VARIANTS = {
    "plain": {},
    "allowed-origin": {"origin": ALLOWED},
    "other-origin": {"origin": "https://evil.example.net"},
    "given-request-id": {"x-request-id": "given-42"},
    "json-accepted": {"accept": "application/json", "accept-language": "ja"},
}


@pytest.fixture(scope="module")
async def site(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Harness]:
    folder = tmp_path_factory.mktemp("fast")
    async with in_process(sqlite_url(folder), folder, cors_origins=(ALLOWED,)) as harness:
        yield harness


def _shape(response: httpx.Response, generated_id: bool) -> list[tuple[bytes, bytes]]:
    return [(k, b"<generated>" if k == b"x-request-id" and generated_id else v) for k, v in response.headers.raw]


def _responses(text: str) -> float:
    return sum(
        s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == "mailreg_http_responses_total" and s.labels == {"path": "/graphql", "status": "200"}
    )


@pytest.mark.parametrize("extra", VARIANTS.values(), ids=VARIANTS.keys())
async def test_a_read_answered_before_routing_has_the_status_bytes_and_headers_graphql_gave_it(
    site: Harness, extra: dict[str, str], caplog: pytest.LogCaptureFixture
):
    body = json.dumps({"query": f"query Q{uuid.uuid4().hex} {{ mailServerChoices {{ id code }} }}"})
    headers = {"authorization": f"Bearer {token()}", "content-type": "application/json", **extra}
    with caplog.at_level(logging.INFO, logger="mailreg"):
        first = await site.http.post("/graphql", content=body, headers=headers)
        before = _responses((await site.http.get("/metrics")).text)
        caplog.clear()
        again = await site.http.post("/graphql", content=body, headers=headers)
        after = _responses((await site.http.get("/metrics")).text)

    request_id = again.headers["x-request-id"]
    (line,) = [r for r in caplog.records if getattr(r, "request_id", None) == request_id]
    assert line.getMessage() == "graphql mailServerChoices ok (cached)"
    assert {k: vars(line).get(k) for k in ("method", "path", "status", "operation", "outcome", "actor")} == {
        "method": "POST",
        "path": "/graphql",
        "status": 200,
        "operation": "mailServerChoices",
        "outcome": "ok",
        "actor": "admin-user",
    }
    assert again.status_code == first.status_code == 200
    assert again.content == first.content
    assert _shape(again, "x-request-id" not in extra) == _shape(first, "x-request-id" not in extra)
    if "x-request-id" in extra:
        assert request_id == extra["x-request-id"]
    else:
        assert request_id != first.headers["x-request-id"]
    assert after - before == 1
