"""The whole admin story against a real `mailreg serve` on a real socket, on
SQLite and on PostgreSQL, checking the list, the choices and the log after each step."""

from __future__ import annotations

import uuid

import pytest

from tests.e2e import documents as doc
from tests.e2e.api_client import GraphQLClient, Json, error_codes, user_errors
from tests.e2e.authorization import MUTATIONS
from tests.e2e.conftest import Deployment
from tests.e2e.tokens import REJECTED, SIGNED_IN_NON_ADMIN
from tests.support import token

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def deployment(live: Deployment) -> Deployment:
    return live


async def shows(api: GraphQLClient, expected: list[tuple[str, str]]) -> Json:
    """Asserts the list and the choices show these (code, name) in this order; returns the list."""
    listed = await api.servers()
    assert [(s["code"], s["name"]) for s in listed["items"]] == expected
    assert [s["position"] for s in listed["items"]] == list(range(1, len(expected) + 1))
    assert listed["totalCount"] == len(expected)
    choices = await api.choices(token=SIGNED_IN_NON_ADMIN)
    assert choices == [{"id": s["id"], "code": s["code"], "name": s["name"]} for s in listed["items"]]
    return listed


async def test_the_admin_story(empty: Deployment):
    api, log = GraphQLClient(empty.http, token("story-admin")), empty.log
    start = await api.servers()

    async def step(number: int, event_type: str, mutation: str, input: Json | None) -> Json:
        async with log.appends(1) as new:
            payload = await api.mutate(mutation, input, headers={"X-Request-ID": f"story-{number}"})
        (row,) = new
        assert (row.type, row.actor, row.correlation_id) == (event_type, "story-admin", f"story-{number}")
        return payload

    google = (await step(1, "ServerAdded", doc.ADD, doc.google()))["server"]
    assert (google["outgoing"]["host"], google["outgoing"]["authMethod"]) == ("smtp.gmail.com", "XOAUTH2")
    assert (google["incoming"]["host"], google["incoming"]["port"], google["incoming"]["useTls"]) == (
        "imap.gmail.com",
        993,
        True,
    )
    await shows(api, [("google", "Google Workspace")])

    pop = (await step(2, "ServerAdded", doc.ADD, doc.pop3_apop()))["server"]
    assert pop["incoming"] == {
        "protocol": "POP3",
        "host": "pop.branch.example.jp",
        "port": 110,
        "useTls": False,
        "useApop": True,
        "timeoutSeconds": 60,
    }
    assert (pop["outgoing"]["encryption"], pop["outgoing"]["authMethod"], pop["outgoing"]["credentials"]) == (
        "NONE",
        "NONE",
        None,
    )
    await shows(api, [("google", "Google Workspace"), ("pop-apop", "Branch office POP")])

    imap = (await step(3, "ServerAdded", doc.ADD, doc.imap_starttls_cram()))["server"]
    assert imap["code"] == "imap-cram"
    assert imap["outgoing"] == {
        "host": "smtp.example.com",
        "port": 587,
        "encryption": "STARTTLS",
        "authMethod": "CRAM_MD5",
        "credentials": "SENDING_ACCOUNT",
        "timeoutSeconds": 90,
    }
    assert imap["incoming"]["useTls"] and imap["incoming"]["timeoutSeconds"] == 30
    added = await shows(
        api, [("google", "Google Workspace"), ("pop-apop", "Branch office POP"), ("imap-cram", "Head office IMAP")]
    )
    assert added["version"] == start["version"] + 3

    changed = (
        await step(
            4,
            "ServerChanged",
            doc.CHANGE,
            {
                "id": pop["id"],
                "expectedVersion": 1,
                "name": "Branch office IMAP",
                "incoming": {"protocol": "IMAP4", "port": 993, "useTls": True},
            },
        )
    )["server"]
    assert (changed["version"], changed["incoming"]["useApop"], changed["incoming"]["protocol"]) == (2, False, "IMAP4")
    after_change = await shows(
        api, [("google", "Google Workspace"), ("pop-apop", "Branch office IMAP"), ("imap-cram", "Head office IMAP")]
    )
    assert after_change["version"] == added["version"]

    reordered = (
        await step(
            5,
            "ServersReordered",
            doc.REORDER,
            {
                "ids": [imap["id"], pop["id"], google["id"]],
                "expectedListVersion": added["version"],
            },
        )
    )["list"]
    assert reordered == await shows(
        api, [("imap-cram", "Head office IMAP"), ("pop-apop", "Branch office IMAP"), ("google", "Google Workspace")]
    )
    assert reordered["version"] == added["version"] + 1

    deleted = await step(6, "ServerDeleted", doc.DELETE, {"id": google["id"], "expectedVersion": 1})
    assert deleted["deletedId"] == google["id"]
    await shows(api, [("imap-cram", "Head office IMAP"), ("pop-apop", "Branch office IMAP")])
    assert await api.server(id=google["id"]) is None
    assert (await api.server(code="pop-apop")) == changed | {"position": 2}

    cleared = await step(7, "AllServersDeleted", doc.DELETE_ALL, {})
    assert cleared["deletedCount"] == 2
    await shows(api, [])

    async with log.unchanged():
        assert (await api.delete_all())["deletedCount"] == 0


async def test_every_mutation_refuses_every_non_admin_token_over_a_real_socket(empty: Deployment):
    a = (await empty.api.add(doc.manual("a")))["server"]["id"]
    b = (await empty.api.add(doc.manual("b")))["server"]["id"]
    before = await empty.api.servers()
    async with empty.log.unchanged():
        for mutation, case in MUTATIONS.items():
            query, input = case(a, b)
            for kind, (bearer, expected) in REJECTED.items():
                body = await empty.api.gql(query, {"input": input}, token=bearer, expect_errors=True)
                assert (error_codes(body), body["data"]) == ([expected], None), (mutation, kind)
    assert await empty.api.servers() == before


async def test_a_non_admin_may_read_the_choices_but_not_the_servers(empty: Deployment):
    await empty.api.add(doc.manual("visible"))
    assert [c["code"] for c in await empty.api.choices(token=SIGNED_IN_NON_ADMIN)] == ["visible"]
    for query, variables in [(doc.SERVERS, None), (doc.SERVER, {"code": "visible"})]:
        body = await empty.api.gql(query, variables, token=SIGNED_IN_NON_ADMIN, expect_errors=True)
        assert error_codes(body) == ["FORBIDDEN"]


async def test_the_server_is_alive_and_ready(live: Deployment):
    assert (await live.http.get("/healthz")).status_code == 200
    ready = await live.http.get("/readyz")
    assert ready.status_code == 200, ready.text


async def test_an_idempotent_retry_after_a_restart_returns_the_first_payload_and_appends_nothing(
    empty: Deployment,
):
    if empty.is_sqlite:
        pytest.skip("on SQLite, test_cli.py's first-run test covers a restart (one server start fewer)")
    assert empty.server is not None
    keyed = {**doc.manual("durable"), "idempotencyKey": uuid.uuid4().hex}
    first = await empty.api.add(keyed)
    empty.server.stop()
    empty.server.start()
    async with empty.log.unchanged():
        assert await empty.api.add(keyed) == first
    await empty.api.change({"id": first["server"]["id"], "name": "Durable, renamed"})
    async with empty.log.unchanged():
        assert await empty.api.add(keyed) == first
        reused = await empty.api.add({**keyed, "name": "Another name"}, expect_success=False)
    assert user_errors(reused) == [(["idempotencyKey"], "IDEMPOTENCY_KEY_REUSED")]
    assert [c["name"] for c in await empty.api.choices()] == ["Durable, renamed"]
