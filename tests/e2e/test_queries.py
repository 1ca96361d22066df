"""The read side over HTTP (in-process ASGI): mailServers, mailServer, mailServerChoices."""

from __future__ import annotations

import json

import pytest

from tests.e2e import documents as doc
from tests.e2e.api_client import error_codes
from tests.e2e.conftest import Deployment
from tests.e2e.tokens import SIGNED_IN_NON_ADMIN
from tests.support import token


@pytest.fixture(scope="module")
def deployment(asgi: Deployment) -> Deployment:
    return asgi


async def test_the_list_and_the_choices_follow_the_admin_order(empty: Deployment):
    added = [(await empty.api.add(doc.manual(code, name=f"Name {code}")))["server"] for code in ("x", "y", "z")]
    listed = await empty.api.servers()
    assert listed["totalCount"] == 3
    assert listed["items"] == [s | {"position": i} for i, s in enumerate(added, start=1)]
    assert await empty.api.choices() == [{"id": s["id"], "code": s["code"], "name": s["name"]} for s in added]


async def test_a_server_can_be_found_by_id_or_by_code(empty: Deployment):
    server = (await empty.api.add(doc.google("gmail")))["server"]
    assert await empty.api.server(id=server["id"]) == server
    assert await empty.api.server(code="gmail") == server
    assert await empty.api.server(code="  gmail ") == server


@pytest.mark.parametrize(
    "arguments", [{"id": "00000000-0000-0000-0000-000000000000"}, {"id": "nonsense"}, {"code": "nobody"}]
)
async def test_an_unknown_server_is_null(empty: Deployment, arguments: dict[str, str]):
    assert await empty.api.server(**arguments) is None


@pytest.mark.parametrize("arguments", [{}, {"id": "x", "code": "y"}])
async def test_mail_server_needs_exactly_one_of_id_and_code(empty: Deployment, arguments: dict[str, str]):
    body = await empty.api.gql(doc.SERVER, arguments, expect_errors=True)
    assert error_codes(body) == ["BAD_USER_INPUT"]
    assert body["data"] == {"mailServer": None}


async def test_a_signed_in_non_admin_may_read_the_choices_only(empty: Deployment):
    await empty.api.add(doc.manual("shared"))
    choices = await empty.api.choices(token=SIGNED_IN_NON_ADMIN)
    assert [c["code"] for c in choices] == ["shared"]
    for query, variables in [(doc.SERVERS, None), (doc.SERVER, {"code": "shared"})]:
        body = await empty.api.gql(query, variables, token=SIGNED_IN_NON_ADMIN, expect_errors=True)
        assert error_codes(body) == ["FORBIDDEN"]
        assert body["data"] is None or set(body["data"].values()) == {None}


@pytest.mark.parametrize("query", [doc.SERVERS, doc.CHOICES])
async def test_reading_without_a_token_is_unauthenticated(empty: Deployment, query: str):
    body = await empty.api.gql(query, token=None, expect_errors=True)
    assert error_codes(body) == ["UNAUTHENTICATED"]
    assert body["data"] is None


async def test_queries_work_over_get(empty: Deployment):
    await empty.api.add(doc.manual("via-get"))
    response = await empty.http.get(
        "/graphql", params={"query": doc.CHOICES}, headers={"Authorization": f"Bearer {token()}"}
    )
    assert response.status_code == 200
    assert [c["code"] for c in response.json()["data"]["mailServerChoices"]] == ["via-get"]


async def test_mutations_over_get_are_refused_and_append_nothing(empty: Deployment):
    params = {"query": doc.ADD, "variables": json.dumps({"input": doc.manual("sneaky")})}
    async with empty.log.unchanged():
        response = await empty.http.get("/graphql", params=params, headers={"Authorization": f"Bearer {token()}"})
    assert response.status_code in (400, 405)
    assert await empty.api.choices() == []
