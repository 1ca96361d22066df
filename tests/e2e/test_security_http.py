"""GraphQL over HTTP media types and status codes (graphql.github.io/graphql-over-http):
application/graphql-response+json clients get 4xx without `data` for request
errors; application/json clients keep 200. In-process on SQLite."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import sqlite_url
from tests.e2e.hardening import ADMIN, GRAPHQL_RESPONSE, Harness, fleet_warmup, in_process  # noqa: F401

pytestmark = pytest.mark.usefixtures("fleet_warmup")  # start the shared servers early; they are slow to start

REQUEST_ERRORS: dict[str, dict[str, Any]] = {
    "parse": {"query": "{ mailServers { "},
    "validation": {"query": "{ mailServers { noSuchField } }"},
    "unknown type": {"query": "query ($x: Nope) { __typename }", "variables": {"x": 1}},
    "variable of the wrong type": {
        "query": "query ($n: Int!) { events(first: $n) { __typename } }",
        "variables": {"n": "ten"},
    },
    "missing variable": {"query": "query ($n: Int!) { events(first: $n) { __typename } }"},
    "bad enum input": {
        "query": "mutation ($i: AddMailServerInput!) { addMailServer(input: $i) { errors { code } } }",
        "variables": {
            "i": {"code": "c", "name": "n", "outgoing": {"encryption": "SSL3"}, "incoming": {"protocol": "POP3"}}
        },
    },
}


@pytest.fixture(scope="module")
async def site(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Harness]:
    folder = tmp_path_factory.mktemp("goh")
    async with in_process(sqlite_url(folder), folder) as harness:
        yield harness


async def ask(site: Harness, body: dict[str, Any], accept: str | None, bearer: str | None = ADMIN) -> httpx.Response:
    request = site.http.build_request(
        "POST", "/graphql", json=body, headers={"Authorization": f"Bearer {bearer}"} if bearer else {}
    )
    if accept is None:
        del request.headers["Accept"]
    else:
        request.headers["Accept"] = accept
    return await site.http.send(request)


def media(response: httpx.Response) -> str:
    return response.headers["content-type"].split(";")[0].strip()


@pytest.mark.parametrize("kind", REQUEST_ERRORS)
async def test_a_request_error_is_400_without_data_for_graphql_response_json(site: Harness, kind: str):
    async with site.log.unchanged():
        response = await ask(site, REQUEST_ERRORS[kind], GRAPHQL_RESPONSE)
    assert (response.status_code, media(response)) == (400, GRAPHQL_RESPONSE), response.text
    body = response.json()
    assert "data" not in body and body["errors"], body


@pytest.mark.parametrize("kind", REQUEST_ERRORS)
async def test_a_request_error_is_200_without_data_for_application_json(site: Harness, kind: str):
    response = await ask(site, REQUEST_ERRORS[kind], "application/json")
    assert (response.status_code, media(response)) == (200, "application/json"), response.text
    body = response.json()
    assert "data" not in body and body["errors"], body


async def test_executed_operations_are_200_for_both_media_types(site: Harness):
    cases = {
        "success": ({"query": "{ mailServers { totalCount } }"}, ADMIN, {"mailServers": {"totalCount": 0}}),
        "field error": ({"query": "{ events(first: 0) { __typename } }"}, ADMIN, None),
        "unauthenticated": ({"query": "{ mailServers { totalCount } }"}, None, None),
    }
    for accept, expected_media in (
        (GRAPHQL_RESPONSE, GRAPHQL_RESPONSE),
        ("application/json", "application/json"),
        ("application/json, " + GRAPHQL_RESPONSE, GRAPHQL_RESPONSE),
    ):
        for name, (body, bearer, data) in cases.items():
            response = await ask(site, body, accept, bearer)
            assert (response.status_code, media(response)) == (200, expected_media), (accept, name, response.text)
            assert "data" in response.json() and response.json()["data"] == data, (accept, name, response.text)


async def test_a_get_query_honours_the_accept_header_too(site: Harness):
    for query, status in (("{ mailServers { totalCount } }", 200), ("{ mailServers { ", 400)):
        response = await site.http.get(
            "/graphql",
            params={"query": query},
            headers={"Authorization": f"Bearer {ADMIN}", "Accept": GRAPHQL_RESPONSE},
        )
        assert (response.status_code, media(response)) == (status, GRAPHQL_RESPONSE), response.text


async def test_graphql_response_json_refused_with_q_0_means_application_json(site: Harness):
    response = await ask(site, REQUEST_ERRORS["parse"], f"{GRAPHQL_RESPONSE};q=0, application/json")
    assert (response.status_code, media(response)) == (200, "application/json"), response.text


async def test_the_highest_priority_media_type_wins(site: Harness):
    response = await ask(site, REQUEST_ERRORS["parse"], f"application/json, {GRAPHQL_RESPONSE};q=0.1")
    assert (response.status_code, media(response)) == (200, "application/json"), response.text


async def test_a_request_without_accept_is_answered_as_graphql_response_json(site: Harness):
    response = await ask(site, REQUEST_ERRORS["parse"], None)
    assert (response.status_code, media(response)) == (400, GRAPHQL_RESPONSE), response.text


async def test_the_response_declares_utf_8(site: Harness):
    for accept in (GRAPHQL_RESPONSE, "application/json"):
        response = await ask(site, {"query": "{ __typename }"}, accept)
        assert "charset=utf-8" in response.headers["content-type"].replace(" ", "").lower(), response.headers
