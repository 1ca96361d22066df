"""Reads answered without GraphQL (api/fast_reads.py, api/read_plans.py) send exactly
Strawberry's bytes, for every current-list query of the contract, after every kind of change."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any

import httpx
import jwt
import pytest

from api.auth import LEEWAY_SECONDS
from api.cached_reads import CachedReads
from tests.e2e import documents as doc
from tests.e2e.api_client import error_codes
from tests.e2e.conftest import Deployment
from tests.e2e.tokens import SIGNED_IN_NON_ADMIN
from tests.support import token


@pytest.fixture(scope="module")
def deployment(asgi: Deployment) -> Deployment:
    return asgi


FULL = (
    "{ mailServers { version totalCount items { id code name position version oauthProvider createdAt updatedAt "
    "outgoing { host port encryption authMethod credentials timeoutSeconds } "
    "incoming { protocol host port useTls useApop timeoutSeconds } } } }"
)
CONDITIONAL = (
    "query Q($full: Boolean!, $skip: Boolean = false) { mailServers { items { id "
    "... on MailServer @include(if: $full) { outgoing { host port } } incoming @skip(if: $skip) { protocol useTls } "
    "... @skip(if: $full) { name } } } }"
)
ALIASED = "{ a: mailServers { n: totalCount v: version items { key: id code } } b: mailServers { items { position } } }"
ONE_BY_CODE = 'query One($c: String = "second") { mailServer(code: $c) { id name position __typename } }'

# (document, variables); "FIRST" stands for the first server's id.
ADMIN_READS: list[tuple[str, dict[str, Any] | None]] = [
    (doc.SERVERS, None),
    (FULL, None),
    (ALIASED, None),
    ("{ mailServers { version } mailServers { items { id } totalCount } }", None),
    ("{ __typename mailServers { __typename items { __typename outgoing { __typename port } } } }", None),
    (CONDITIONAL, {"full": True}),
    (CONDITIONAL, {"full": False, "skip": True}),
    (doc.SERVER, {"id": "FIRST"}),
    (doc.SERVER, {"code": " first "}),
    (doc.SERVER, {"id": "00000000-0000-0000-0000-000000000000"}),
    (ONE_BY_CODE, None),
    (ONE_BY_CODE, {"c": "third"}),
    ('{ byCode: mailServer(code: "first") { ...on MailServer { code } } }', None),
    (doc.CHOICES, None),
    ("fragment C on MailServerChoice { code } query { list: mailServerChoices { ...C label: name __typename } }", None),
    ("{ mailServerChoices { id } mailServers { totalCount } }", None),
]
USER_READS: list[tuple[str, dict[str, Any] | None]] = [
    (doc.CHOICES, None),
    ("{ c: mailServerChoices { name id } }", None),
]


def _reads(deployment: Deployment) -> CachedReads:
    transport = deployment.http._transport
    assert isinstance(transport, httpx.ASGITransport)
    reads: CachedReads = transport.app.state.graphql.cached_reads  # type: ignore[attr-defined]
    return reads


async def _post(deployment: Deployment, body: bytes, bearer: str, language: str = "en") -> httpx.Response:
    headers = {"content-type": "application/json", "authorization": f"Bearer {bearer}", "accept-language": language}
    response = await deployment.http.post("/graphql", content=body, headers=headers)
    assert response.status_code == 200, response.text
    assert b'"errors"' not in response.content, response.text
    return response


async def _seed(deployment: Deployment) -> list[str]:
    api = deployment.api
    ids = [(await api.add(doc.manual("first", name="最初のサーバー")))["server"]["id"]]
    ids.append((await api.add(doc.google("second")))["server"]["id"])
    ids.append((await api.add(doc.pop3_apop("third")))["server"]["id"])
    ids.append((await api.add(doc.imap_starttls_cram("fourth")))["server"]["id"])
    return ids


async def _changes(deployment: Deployment, ids: list[str]) -> Any:
    """Every kind of change, one at a time: a rename, a reorder, a delete, an add, a change of code."""
    api = deployment.api
    await api.change({"id": ids[1], "name": "Renamed"})
    yield "a rename"
    await api.reorder({"ids": ids[::-1]})
    yield "a reorder"
    await api.delete({"id": ids[2]})
    yield "a delete"
    await api.add(doc.manual("fifth", name="Fifth"))
    yield "an add"
    await api.change({"id": ids[0], "code": "first-renamed", "outgoing": {"port": 2525}})
    yield "a change of code and port"


@pytest.mark.parametrize("role", ["admin", "user"])
async def test_planned_answers_are_strawberrys_bytes_after_every_kind_of_change(empty: Deployment, role: str):
    ids = await _seed(empty)
    bearer = token() if role == "admin" else SIGNED_IN_NON_ADMIN
    bodies = []
    for document, variables in ADMIN_READS if role == "admin" else USER_READS:
        body: dict[str, Any] = {"query": document}
        if variables is not None:
            body["variables"] = {k: ids[0] if v == "FIRST" else v for k, v in variables.items()}
        bodies.append(json.dumps(body).encode())
    for body in bodies:
        await _post(empty, body, bearer)  # runs through GraphQL once; its plan is checked against that answer
    reads = _reads(empty)
    planned = {key[1] for key, known in reads.known.items() if known.plan is not None and key[3] == role}
    assert planned >= set(bodies), [b for b in bodies if b not in planned]

    async for change in _changes(empty, ids):
        for body in bodies:
            fast = await _post(empty, body, bearer)
            # A language never sent before makes a new cache key: Strawberry answers it.
            graphql = await _post(empty, body, bearer, language=f"en;q=0.{uuid.uuid4().int % 999 + 1:03d}")
            assert fast.content == graphql.content, (change, body)
            assert fast.headers["content-type"] == graphql.headers["content-type"]
            assert fast.headers["x-request-id"]


async def test_a_read_served_without_graphql_reflects_the_write_before_it(empty: Deployment):
    ids = await _seed(empty)
    body = json.dumps({"query": FULL}).encode()
    for round_ in range(5):
        await _post(empty, body, token())
        await empty.api.change({"id": ids[round_ % len(ids)], "name": f"Round {round_}"})
        listed = json.loads((await _post(empty, body, token())).content)["data"]["mailServers"]["items"]
        assert {s["id"]: s["name"] for s in listed}[ids[round_ % len(ids)]] == f"Round {round_}"


async def test_a_cached_read_is_refused_once_its_token_expires(empty: Deployment):
    await _seed(empty)
    # Accepted for 2 s more: its exp is 28 s past, inside the 30 s clock leeway.
    brief = token(sub="brief", ttl=2 - LEEWAY_SECONDS)
    expires_at = jwt.decode(brief, options={"verify_signature": False})["exp"] + LEEWAY_SECONDS
    body = json.dumps({"query": doc.CHOICES}).encode()
    await _post(empty, body, brief)
    await _post(empty, body, brief)  # answered without GraphQL, its token verified from memory
    await asyncio.sleep(max(0.0, expires_at - time.time()) + 0.1)

    response = await empty.http.post(
        "/graphql", content=body, headers={"content-type": "application/json", "authorization": f"Bearer {brief}"}
    )
    assert error_codes(response.json()) == ["UNAUTHENTICATED"]


async def test_plans_evicted_for_memory_are_compiled_again_and_answer_the_same(
    empty: Deployment, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr("api.cached_reads.MAX_PLANS", 1)
    ids = await _seed(empty)
    bodies = [json.dumps({"query": query}).encode() for query in (FULL, doc.CHOICES, ALIASED)]
    for body in bodies:
        await _post(empty, body, token())
    for step in range(3):
        await empty.api.change({"id": ids[step], "name": f"Evicted {step}"})
        answers = []
        for body in bodies:
            fast = await _post(empty, body, token())
            graphql = await _post(empty, body, token(), language=f"en;q=0.{uuid.uuid4().int % 999 + 1:03d}")
            assert fast.content == graphql.content
            answers.append(fast.content)
        assert f"Evicted {step}".encode() in answers[0]
    assert len(_reads(empty).plans.plans) == 1
