"""Each mutation over HTTP (in-process ASGI), on SQLite and PostgreSQL: what it
answers, and exactly what it appends to the log."""

from __future__ import annotations

import re

import pytest

from tests.e2e import documents as doc
from tests.e2e.api_client import user_errors
from tests.e2e.conftest import Deployment
from tests.support import token

JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")


@pytest.fixture(scope="module")
def deployment(asgi: Deployment) -> Deployment:
    return asgi


async def test_an_added_server_is_recorded_as_one_server_added_event_by_the_tokens_subject(empty: Deployment):
    async with empty.log.appends(1) as new:
        payload = await empty.api.add(
            doc.manual("tokyo"), token=token("alice"), headers={"X-Request-ID": "req-add-tokyo"}
        )
    server = payload["server"]
    assert (server["code"], server["position"], server["version"]) == ("tokyo", 1, 1)
    (row,) = new
    assert (row.type, row.stream_id, row.stream_version) == ("ServerAdded", server["id"], 1)
    assert (row.actor, row.correlation_id) == ("alice", "req-add-tokyo")


async def test_without_x_request_id_the_event_has_no_correlation_id(empty: Deployment):
    async with empty.log.appends(1) as new:
        await empty.api.add(doc.manual("osaka"))
    assert new[0].correlation_id is None
    assert new[0].actor == "admin-user"


async def test_every_successful_mutation_appends_exactly_one_event_of_its_type(empty: Deployment):
    api, log = empty.api, empty.log
    first = (await api.add(doc.manual("a")))["server"]["id"]
    second = (await api.add(doc.manual("b")))["server"]["id"]
    steps = [
        ("ServerChanged", api.change, {"id": first, "name": "Renamed"}),
        ("ServersReordered", api.reorder, {"ids": [second, first]}),
        ("ServerDeleted", api.delete, {"id": first}),
        ("AllServersDeleted", api.delete_all, {}),
    ]
    for number, (event_type, mutation, input) in enumerate(steps):
        request_id = f"step-{number}"
        async with log.appends(1) as new:
            await mutation(input, token=token("bob"), headers={"X-Request-ID": request_id})
        assert (new[0].type, new[0].actor, new[0].correlation_id) == (event_type, "bob", request_id)
    listed = await api.servers()
    assert (listed["totalCount"], listed["items"]) == (0, [])


async def test_an_oauth_server_gets_the_providers_presets(empty: Deployment):
    server = (await empty.api.add(doc.google()))["server"]
    assert server["oauthProvider"] == "GOOGLE"
    assert server["outgoing"] == {
        "host": "smtp.gmail.com",
        "port": 465,
        "encryption": "TLS",
        "authMethod": "XOAUTH2",
        "credentials": None,
        "timeoutSeconds": 60,
    }
    assert server["incoming"] == {
        "protocol": "IMAP4",
        "host": "imap.gmail.com",
        "port": 993,
        "useTls": True,
        "useApop": False,
        "timeoutSeconds": 60,
    }


async def test_host_names_and_codes_are_normalised(empty: Deployment):
    server = (await empty.api.add(doc.imap_starttls_cram("hq")))["server"]
    assert server["code"] == "hq"
    assert server["outgoing"] == {
        "host": "smtp.example.com",
        "port": 587,
        "encryption": "STARTTLS",
        "authMethod": "CRAM_MD5",
        "credentials": "SENDING_ACCOUNT",
        "timeoutSeconds": 90,
    }


async def test_an_input_with_three_bad_fields_gets_three_user_errors_and_appends_nothing(empty: Deployment):
    bad = doc.manual("x", outgoing={"host": "bad_host", "port": 0}, incoming={"protocol": "IMAP4", "port": 143})
    async with empty.log.unchanged():
        payload = await empty.api.add(bad, expect_success=False)
    assert payload["server"] is None
    assert sorted(user_errors(payload)) == [
        (["incoming", "host"], "REQUIRED"),
        (["outgoing", "host"], "INVALID"),
        (["outgoing", "port"], "OUT_OF_RANGE"),
    ]


@pytest.mark.parametrize("accept_language", ["ja", "ja-JP,en;q=0.5"])
async def test_user_error_messages_are_japanese_when_the_request_prefers_ja(empty: Deployment, accept_language: str):
    await empty.api.add(doc.manual("dup"))
    bad = doc.manual("dup", outgoing={"host": "smtp.example.com", "port": 70000})
    english = await empty.api.add(bad, expect_success=False)
    japanese = await empty.api.add(bad, expect_success=False, headers={"Accept-Language": accept_language})
    assert user_errors(japanese) == user_errors(english)
    assert {code for _, code in user_errors(japanese)} == {"CODE_ALREADY_EXISTS", "OUT_OF_RANGE"}
    for error in japanese["errors"]:
        assert JAPANESE.search(error["message"]), error
    for error in english["errors"]:
        assert error["message"].isascii() and error["message"], error


async def test_a_code_held_by_a_live_server_is_refused(empty: Deployment):
    await empty.api.add(doc.manual("kyoto"))
    async with empty.log.unchanged():
        payload = await empty.api.add(doc.manual(" kyoto "), expect_success=False)
    assert user_errors(payload) == [(["code"], "CODE_ALREADY_EXISTS")]


async def test_a_deleted_servers_code_can_be_reused(empty: Deployment):
    old = (await empty.api.add(doc.manual("nagoya")))["server"]
    await empty.api.delete({"id": old["id"]})
    async with empty.log.appends(1):
        new = (await empty.api.add(doc.manual("nagoya", name="Nagoya again")))["server"]
    assert new["id"] != old["id"]
    assert (await empty.api.server(code="nagoya")) == new


async def test_a_change_bumps_the_servers_version_but_not_the_lists(empty: Deployment):
    server = (await empty.api.add(doc.pop3_apop("branch")))["server"]
    list_version = (await empty.api.servers())["version"]
    async with empty.log.appends(1) as new:
        changed = (
            await empty.api.change(
                {
                    "id": server["id"],
                    "expectedVersion": 1,
                    "name": "Branch (IMAP)",
                    "incoming": {"protocol": "IMAP4", "port": 143},
                }
            )
        )["server"]
    assert (new[0].type, new[0].stream_id, new[0].stream_version) == ("ServerChanged", server["id"], 2)
    assert (changed["name"], changed["version"], changed["createdAt"]) == ("Branch (IMAP)", 2, server["createdAt"])
    assert changed["incoming"] == {
        "protocol": "IMAP4",
        "host": "pop.branch.example.jp",
        "port": 143,
        "useTls": False,
        "useApop": False,
        "timeoutSeconds": 60,
    }
    assert (await empty.api.servers())["version"] == list_version
    assert await empty.api.server(id=server["id"]) == changed


async def test_a_change_that_changes_nothing_appends_nothing_and_returns_the_server_unchanged(empty: Deployment):
    server = (await empty.api.add(doc.manual("kobe")))["server"]
    async with empty.log.unchanged():
        payload = await empty.api.change(
            {
                "id": server["id"],
                "name": server["name"],
                "code": " kobe ",
                "outgoing": {"port": 25, "encryption": "NONE"},
            }
        )
    assert payload["server"] == server


async def test_a_stale_expected_version_is_a_version_conflict(empty: Deployment):
    server = (await empty.api.add(doc.manual("sendai")))["server"]
    await empty.api.change({"id": server["id"], "expectedVersion": 1, "name": "Sendai 2"})
    async with empty.log.unchanged():
        change = await empty.api.change(
            {"id": server["id"], "expectedVersion": 1, "name": "Sendai 3"}, expect_success=False
        )
        delete = await empty.api.delete({"id": server["id"], "expectedVersion": 1}, expect_success=False)
    assert change["server"] is None and delete["deletedId"] is None
    assert [code for _, code in user_errors(change)] == ["VERSION_CONFLICT"]
    assert [code for _, code in user_errors(delete)] == ["VERSION_CONFLICT"]
    async with empty.log.appends(1):
        await empty.api.delete({"id": server["id"], "expectedVersion": 2})


async def test_a_stale_expected_list_version_is_a_version_conflict(empty: Deployment):
    a = (await empty.api.add(doc.manual("a")))["server"]["id"]
    b = (await empty.api.add(doc.manual("b")))["server"]["id"]
    stale = (await empty.api.servers())["version"] - 1
    async with empty.log.unchanged():
        reorder = await empty.api.reorder({"ids": [b, a], "expectedListVersion": stale}, expect_success=False)
        delete_all = await empty.api.delete_all({"expectedListVersion": stale}, expect_success=False)
    assert reorder["list"] is None and delete_all["deletedCount"] == 0
    assert [code for _, code in user_errors(reorder)] == ["VERSION_CONFLICT"]
    assert [code for _, code in user_errors(delete_all)] == ["VERSION_CONFLICT"]


async def test_a_reorder_answers_the_new_list_with_a_new_version(empty: Deployment):
    ids = [(await empty.api.add(doc.manual(code)))["server"]["id"] for code in ("a", "b", "c")]
    before = await empty.api.servers()
    async with empty.log.appends(1) as new:
        listed = (await empty.api.reorder({"ids": ids[::-1], "expectedListVersion": before["version"]}))["list"]
    assert new[0].type == "ServersReordered"
    assert listed["version"] == before["version"] + 1
    assert [(s["code"], s["position"]) for s in listed["items"]] == [("c", 1), ("b", 2), ("a", 3)]
    assert listed == await empty.api.servers()
    assert [c["code"] for c in await empty.api.choices()] == ["c", "b", "a"]


async def test_a_reorder_to_the_current_order_appends_nothing(empty: Deployment):
    ids = [(await empty.api.add(doc.manual(code)))["server"]["id"] for code in ("a", "b")]
    before = await empty.api.servers()
    async with empty.log.unchanged():
        listed = (await empty.api.reorder({"ids": ids}))["list"]
    assert listed == before


@pytest.mark.parametrize("order", ["missing", "duplicate", "unknown"])
async def test_a_reorder_that_is_not_a_permutation_is_an_order_mismatch(empty: Deployment, order: str):
    a = (await empty.api.add(doc.manual("a")))["server"]["id"]
    b = (await empty.api.add(doc.manual("b")))["server"]["id"]
    ids = {"missing": [b], "duplicate": [b, a, a], "unknown": [b, a, "no-such-id"]}[order]
    async with empty.log.unchanged():
        payload = await empty.api.reorder({"ids": ids}, expect_success=False)
    assert payload["list"] is None
    assert user_errors(payload) == [(["ids"], "ORDER_MISMATCH")]


async def test_deleting_closes_the_gap_in_positions(empty: Deployment):
    ids = [(await empty.api.add(doc.manual(code)))["server"]["id"] for code in ("a", "b", "c")]
    async with empty.log.appends(1) as new:
        payload = await empty.api.delete({"id": ids[1]})
    assert payload["deletedId"] == ids[1]
    assert (new[0].type, new[0].stream_id, new[0].stream_version) == ("ServerDeleted", ids[1], 2)
    listed = await empty.api.servers()
    assert [(s["code"], s["position"]) for s in listed["items"]] == [("a", 1), ("c", 2)]
    assert await empty.api.server(id=ids[1]) is None


@pytest.mark.parametrize("mutation", ["change", "delete"])
async def test_an_unknown_id_is_not_found(empty: Deployment, mutation: str):
    run = {"change": empty.api.change, "delete": empty.api.delete}[mutation]
    async with empty.log.unchanged():
        payload = await run(
            {"id": "00000000-0000-0000-0000-000000000000", "name": "x"}
            if mutation == "change"
            else {"id": "00000000-0000-0000-0000-000000000000"},
            expect_success=False,
        )
    assert user_errors(payload) == [(["id"], "NOT_FOUND")]


async def test_delete_all_answers_how_many_it_deleted(empty: Deployment):
    for code in ("a", "b", "c"):
        await empty.api.add(doc.manual(code))
    async with empty.log.appends(1) as new:
        payload = await empty.api.delete_all()
    assert payload == {"deletedCount": 3, "errors": []}
    assert new[0].type == "AllServersDeleted"
    assert (await empty.api.servers())["items"] == [] and await empty.api.choices() == []


async def test_delete_all_on_an_empty_list_deletes_nothing_and_appends_nothing(empty: Deployment):
    async with empty.log.unchanged():
        with_input = await empty.api.delete_all({})
        without_input = await empty.api.gql("mutation { deleteAllMailServers { deletedCount errors { code } } }")
    assert with_input == {"deletedCount": 0, "errors": []}
    assert without_input == {"deleteAllMailServers": {"deletedCount": 0, "errors": []}}
