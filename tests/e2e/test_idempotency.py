"""idempotencyKey over HTTP (in-process ASGI), for every mutation."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from tests.e2e import documents as doc
from tests.e2e.api_client import GraphQLClient, user_errors
from tests.e2e.conftest import Deployment
from tests.support import token

Json = dict[str, Any]
# mutation -> (the input, given the ids of live servers "a" and "b"; a different input for the same key)
CASES: dict[str, Callable[[str, str], tuple[Json, Json]]] = {
    "addMailServer": lambda a, b: (doc.manual("c"), doc.manual("c", name="Other name")),
    "changeMailServer": lambda a, b: ({"id": a, "name": "Renamed"}, {"id": a, "name": "Renamed again"}),
    "reorderMailServers": lambda a, b: ({"ids": [b, a]}, {"ids": [a, b]}),
    "deleteMailServer": lambda a, b: ({"id": a}, {"id": b}),
    "deleteAllMailServers": lambda a, b: ({}, {"expectedListVersion": 99}),
}


@pytest.fixture(scope="module")
def deployment(asgi: Deployment) -> Deployment:
    return asgi


def run(api: GraphQLClient, mutation: str) -> Callable[..., Awaitable[Json]]:
    return {
        "addMailServer": api.add,
        "changeMailServer": api.change,
        "reorderMailServers": api.reorder,
        "deleteMailServer": api.delete,
        "deleteAllMailServers": api.delete_all,
    }[mutation]


async def two_servers(api: GraphQLClient) -> tuple[str, str]:
    a = (await api.add(doc.manual("a")))["server"]["id"]
    b = (await api.add(doc.manual("b")))["server"]["id"]
    return a, b


@pytest.mark.parametrize("mutation", CASES)
async def test_a_repeat_with_the_same_key_returns_the_first_payload_and_appends_nothing(
    empty: Deployment, mutation: str
):
    input, _ = CASES[mutation](*await two_servers(empty.api))
    keyed = {**input, "idempotencyKey": uuid.uuid4().hex}
    async with empty.log.appends(1):
        first = await run(empty.api, mutation)(keyed)
    async with empty.log.unchanged():
        again = await run(empty.api, mutation)(keyed)
    assert again == first


@pytest.mark.parametrize("mutation", CASES)
async def test_the_same_key_with_a_different_input_is_refused(empty: Deployment, mutation: str):
    input, other = CASES[mutation](*await two_servers(empty.api))
    key = uuid.uuid4().hex
    await run(empty.api, mutation)({**input, "idempotencyKey": key})
    async with empty.log.unchanged():
        payload = await run(empty.api, mutation)({**other, "idempotencyKey": key}, expect_success=False)
    assert [code for _, code in user_errors(payload)] == ["IDEMPOTENCY_KEY_REUSED"]


async def test_a_replay_after_later_changes_still_returns_the_original_payload(empty: Deployment):
    keyed = {**doc.manual("hakata"), "idempotencyKey": uuid.uuid4().hex}
    first = await empty.api.add(keyed)
    await empty.api.change({"id": first["server"]["id"], "name": "Hakata renamed"})
    async with empty.log.unchanged():
        assert await empty.api.add(keyed) == first


async def test_keys_are_scoped_per_actor(empty: Deployment):
    keyed = {**doc.manual("sapporo"), "idempotencyKey": uuid.uuid4().hex}
    await empty.api.add(keyed, token=token("alice"))
    async with empty.log.unchanged():
        payload = await empty.api.add(keyed, token=token("bob"), expect_success=False)
    assert user_errors(payload) == [(["code"], "CODE_ALREADY_EXISTS")]


async def test_a_failed_attempt_is_not_remembered(empty: Deployment):
    key = uuid.uuid4().hex
    broken = {**doc.manual("naha", outgoing={"host": "smtp.example.com", "port": 0}), "idempotencyKey": key}
    for _ in range(2):
        payload = await empty.api.add(broken, expect_success=False)
        assert user_errors(payload) == [(["outgoing", "port"], "OUT_OF_RANGE")]
    async with empty.log.appends(1):
        await empty.api.add({**doc.manual("naha"), "idempotencyKey": key})
