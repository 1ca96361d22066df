"""Request limits on /graphql: bodies over 1 MiB (413, also chunked without a
Content-Length, on a real server), batched arrays, invalid JSON (400 with a
JSON errors body), mutations over GET, and POST bodies that are not
application/json (415). Nothing is appended to the event log (checked with SQL)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from urllib.parse import urlencode

import httpx
import pytest

from tests.e2e.eventlog import EventLog
from tests.e2e.hardening import (
    ADMIN,
    MIB,
    Fleet,
    Harness,
    abuse,
    abuse_summary,  # noqa: F401 - fixture
    add,
    fleet,  # noqa: F401 - fixture
    fleet_warmup,  # noqa: F401 - fixture
    fresh,
    in_process,
    padded_body,
    pg_database,
)

pytestmark = [pytest.mark.postgres, pytest.mark.usefixtures("fleet_warmup", "abuse_summary")]


@pytest.fixture(scope="module")
async def site(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Harness]:
    async with pg_database() as url, in_process(url, tmp_path_factory.mktemp("abuse")) as harness:
        yield harness


async def test_bodies_over_1_mib_get_413_and_exactly_1_mib_is_served(site: Harness):
    for size in (MIB + 1, 8 * MIB):
        async with abuse("body_size"), site.log.unchanged():
            response = await site.post(padded_body(f"mutation {{ {add(fresh())} }}", size))
            assert response.status_code == 413, response.text
            assert response.json()["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"
    async with site.log.appends(1):
        response = await site.post(padded_body(f"mutation {{ {add(fresh())} }}", MIB))
    assert response.status_code == 200 and response.json()["data"]["addMailServer"]["errors"] == []


@pytest.mark.slow
async def test_a_chunked_body_over_1_mib_without_content_length_gets_413(fleet: Fleet):  # noqa: F811
    server = fleet.shared
    log = EventLog(server.database_url)
    head = json.dumps({"query": f"mutation {{ {add(fresh())} }}"}).encode()

    async def stream(total: int) -> AsyncIterator[bytes]:
        yield head
        for _ in range(total // 65536):
            yield b" " * 65536

    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {ADMIN}"}
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=20) as http:
            async with abuse("body_size"), log.unchanged():
                response = await http.post("/graphql", content=stream(3 * MIB), headers=headers)
                assert response.request.headers.get("transfer-encoding") == "chunked"
                assert "content-length" not in response.request.headers
                assert response.status_code == 413, response.text
                assert response.json()["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"
            async with log.appends(1):
                response = await http.post("/graphql", content=stream(MIB // 2), headers=headers)
            assert response.status_code == 200 and response.json()["data"]["addMailServer"]["errors"] == []
    finally:
        await log.dispose()


# ------------------------------------------------------------ request shape


async def test_batched_requests_are_refused(site: Harness):
    one = {"query": f"mutation {{ {add(fresh())} }}"}
    for batch in ([one], [one, {"query": f"mutation {{ {add(fresh())} }}"}], []):
        async with abuse("batching"), site.log.unchanged():
            response = await site.post(batch)
            assert response.status_code == 400, response.text
            assert response.json()["errors"], response.text


INVALID_JSON = [b"{bad", b'{"query": "mutation {', b"NONSENSE", b"\xff\xfe{}", b"", b'"a string"', b"42", b"null"]


async def test_invalid_json_gets_400_with_a_json_errors_body(site: Harness):
    for body in INVALID_JSON:
        async with abuse("invalid_json"), site.log.unchanged():
            response = await site.post(body)
            assert response.status_code == 400, (body, response.text)
            assert response.headers["content-type"].startswith("application/json")
            assert response.json()["errors"][0]["message"], response.text


async def test_mutations_over_get_are_refused(site: Harness):
    mutation = f"mutation B {{ {add(fresh())} }}"
    attempts = [
        {"query": mutation},
        {"query": mutation, "operationName": "B"},
        {"query": "query A { __typename } " + mutation, "operationName": "B"},
    ]
    for params in attempts:
        for accept in ("application/json", "application/graphql-response+json"):
            async with abuse("get_mutation"), site.log.unchanged():
                response = await site.http.get(
                    "/graphql", params=params, headers={"Authorization": f"Bearer {ADMIN}", "Accept": accept}
                )
                assert response.status_code in (400, 405), response.text


async def test_a_mutation_over_get_gets_405(site: Harness):
    response = await site.http.get(
        "/graphql",
        params={"query": f"mutation {{ {add(fresh())} }}"},
        headers={"Authorization": f"Bearer {ADMIN}", "Accept": "application/json"},
    )
    assert response.status_code == 405, response.text


NOT_JSON = [
    ("application/graphql", lambda q: q.encode()),
    ("text/plain", lambda q: json.dumps({"query": q}).encode()),
    ("application/x-www-form-urlencoded", lambda q: urlencode({"query": q}).encode()),
    (
        "multipart/form-data; boundary=X",
        lambda q: (
            b'--X\r\nContent-Disposition: form-data; name="operations"\r\n\r\n'
            + json.dumps({"query": q}).encode()
            + b'\r\n--X\r\nContent-Disposition: form-data; name="map"\r\n\r\n{}\r\n--X--\r\n'
        ),
    ),
    (None, lambda q: json.dumps({"query": q}).encode()),
]


async def test_only_application_json_is_accepted_for_post(site: Harness):
    for media, encode in NOT_JSON:
        headers = {"Authorization": f"Bearer {ADMIN}"} | ({"Content-Type": media} if media else {})
        async with abuse("media_type"), site.log.unchanged():
            response = await site.http.post(
                "/graphql", content=encode(f"mutation {{ {add(fresh())} }}"), headers=headers
            )
            assert response.status_code == 415, (media, response.text)
            assert response.json()["errors"][0]["extensions"]["code"] == "UNSUPPORTED_MEDIA_TYPE"
    async with site.log.appends(1):
        response = await site.post(
            json.dumps({"query": f"mutation {{ {add(fresh())} }}"}).encode(),
            headers={"Content-Type": "application/json; charset=utf-8"},
        )
    assert response.status_code == 200, response.text
