"""restoreMailServers: the list comes back field for field and in order, through
ordinary events by the restoring actor; and the ways a restore is refused."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.e2e.live import Api, Folded, Json, comparable, fresh_database, in_process, manual
from tests.support import token

pytestmark = pytest.mark.postgres

RESTORER = token("restorer")
KEPT = ("id", "code", "name", "position", "oauthProvider", "outgoing", "incoming", "createdAt")


@pytest.fixture(scope="module")
async def module_api(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Api]:
    async with fresh_database() as url, in_process(url, tmp_path_factory.mktemp("restore")) as client:
        yield client


@pytest.fixture
async def api(module_api: Api) -> Api:
    await module_api.mutate("deleteAllMailServers", None)
    return module_api


def as_restored(listed: Json) -> list[Json]:
    """What a restore brings back: everything but version and updatedAt."""
    return [{key: server[key] for key in KEPT} for server in comparable(listed["items"])]


async def last_position(api: Api) -> str:
    page = await api.page(first=500)
    while page["pageInfo"]["hasNextPage"]:
        page = await api.page(first=500, after=page["pageInfo"]["endCursor"])
    return str(page["pageInfo"]["endCursor"])


async def restore(api: Api, as_of: str, **input: object) -> tuple[Json, list[Json]]:
    """The payload of a restore by "restorer", and the events it appended."""
    before = await last_position(api)
    payload = await api.mutate(
        "restoreMailServers", {"asOf": as_of, **input}, ok=False, bearer=RESTORER, headers={"X-Request-ID": "restore-1"}
    )
    return payload, await api.events(after=before)


async def three_servers(api: Api) -> list[Json]:
    return [
        await api.add(manual("tokyo", "Tokyo")),
        await api.add(
            {
                "code": "google",
                "name": "Workspace",
                "oauthProvider": "GOOGLE",
                "outgoing": {},
                "incoming": {"protocol": "POP3", "timeoutSeconds": 30},
            }
        ),
        await api.add(
            {
                "code": "hq",
                "name": "Head office",
                "outgoing": {
                    "host": "smtp.hq.example.jp",
                    "port": 587,
                    "encryption": "STARTTLS",
                    "authMethod": "CRAM_MD5",
                    "credentials": "SENDING_ACCOUNT",
                    "timeoutSeconds": 90,
                },
                "incoming": {
                    "protocol": "POP3",
                    "host": "pop.hq.example.jp",
                    "port": 995,
                    "useTls": True,
                    "useApop": True,
                    "timeoutSeconds": 20,
                },
            }
        ),
    ]


def check_events(events: list[Json], before: Json, target: Json) -> None:
    """Ordinary events by the restorer that, folded over `before`, give `target`,
    with every intermediate state valid and a reorder, if any, last."""
    assert events
    assert {(e["actor"], e["correlationId"]) for e in events} == {("restorer", "restore-1")}
    kinds = [e["type"] for e in events]
    assert "AllServersDeleted" not in kinds
    assert "ServersReordered" not in kinds[:-1]
    folded = Folded.of(before)
    for event in events:
        folded.apply(event)  # asserts unique codes after every event
    assert as_restored(folded.listed()) == as_restored(target)


async def test_a_restore_after_delete_all_brings_every_server_back_as_it_was(api: Api):
    await three_servers(api)
    await api.mutate("changeMailServer", {"id": (await api.servers())["items"][0]["id"], "name": "Tokyo HQ"})
    earlier, as_of = await api.servers(), await last_position(api)
    await api.mutate("deleteAllMailServers", None)
    emptied = await api.servers()

    payload, events = await restore(api, as_of)

    assert payload["errors"] == []
    assert as_restored(await api.servers()) == as_restored(earlier) == as_restored(payload["list"])
    assert [(e["type"], e["streamId"]) for e in events] == [("ServerAdded", s["id"]) for s in earlier["items"]]
    check_events(events, emptied, earlier)


async def test_a_restore_undoes_reorders_changes_adds_and_deletes(api: Api):
    await three_servers(api)
    fourth = await api.add(manual("osaka", "Osaka"))
    earlier, as_of = await api.servers(), await last_position(api)
    ids = [s["id"] for s in earlier["items"]]
    await api.mutate("reorderMailServers", {"ids": ids[::-1]})
    await api.mutate("changeMailServer", {"id": ids[0], "name": "Renamed", "outgoing": {"port": 2525}})
    await api.mutate("changeMailServer", {"id": ids[1], "incoming": {"protocol": "IMAP4"}})
    await api.mutate("changeMailServer", {"id": ids[2], "oauthProvider": "MICROSOFT"})
    await api.mutate("deleteMailServer", {"id": fourth["id"]})
    newcomer = await api.add(manual("kobe", "Kobe"))
    await api.mutate("changeMailServer", {"id": ids[0], "code": "osaka"})  # takes the deleted server's code
    before = await api.servers()

    payload, events = await restore(api, as_of)

    assert payload["errors"] == []
    assert as_restored(await api.servers()) == as_restored(earlier)
    streams = {kind: [e["streamId"] for e in events if e["type"] == kind] for kind in {e["type"] for e in events}}
    assert streams["ServerDeleted"] == [newcomer["id"]]
    assert streams["ServerAdded"] == [fourth["id"]]
    assert set(streams["ServerChanged"]) == set(ids[:3])
    assert events[-1]["type"] == "ServersReordered" and events[-1]["after"] == ids
    check_events(events, before, earlier)


async def test_a_restore_after_two_servers_swapped_codes_gives_each_its_code_back(api: Api):
    x = await api.add(manual("alpha", "X"))
    y = await api.add(manual("beta", "Y"))
    earlier, as_of = await api.servers(), await last_position(api)
    await api.mutate("changeMailServer", {"id": x["id"], "code": "parked"})
    await api.mutate("changeMailServer", {"id": y["id"], "code": "alpha", "name": "Y now alpha"})
    await api.mutate("changeMailServer", {"id": x["id"], "code": "beta"})
    before = await api.servers()

    payload, events = await restore(api, as_of)

    assert payload["errors"] == []
    listed = await api.servers()
    codes = [(s["id"], s["code"], s["name"]) for s in listed["items"]]
    assert codes == [(x["id"], "alpha", "X"), (y["id"], "beta", "Y")]
    assert as_restored(listed) == as_restored(earlier)
    assert {e["type"] for e in events} == {"ServerChanged"}
    check_events(events, before, earlier)


async def test_a_restore_to_the_list_as_it_already_is_appends_nothing(api: Api):
    server = await api.add(manual("tokyo"))
    as_of = await last_position(api)
    current = await api.servers()
    payload, events = await restore(api, as_of)
    assert (payload["errors"], events) == ([], [])
    assert comparable(payload["list"]["items"]) == comparable(current["items"])

    # Changed and changed back: the list at `as_of` equals the live one again.
    await api.mutate("changeMailServer", {"id": server["id"], "name": "Other"})
    await api.mutate("changeMailServer", {"id": server["id"], "name": current["items"][0]["name"]})
    payload, events = await restore(api, as_of)
    assert (payload["errors"], events) == ([], [])


@pytest.mark.parametrize("as_of", ["999999999", "abc", "", "-3"])
async def test_a_restore_to_an_unknown_position_is_not_found_and_appends_nothing(api: Api, as_of: str):
    await api.add(manual("tokyo"))
    payload, events = await restore(api, as_of)
    assert [(e["field"], e["code"]) for e in payload["errors"]] == [(["asOf"], "NOT_FOUND")]
    assert (payload["list"], events) == (None, [])


async def test_a_restore_with_a_stale_list_version_conflicts_and_appends_nothing(api: Api):
    await api.add(manual("tokyo"))
    as_of = await last_position(api)
    await api.add(manual("osaka"))
    version = (await api.servers())["version"]

    payload, events = await restore(api, as_of, expectedListVersion=version - 1)
    assert [e["code"] for e in payload["errors"]] == ["VERSION_CONFLICT"]
    assert (payload["list"], events) == (None, [])

    payload, events = await restore(api, as_of, expectedListVersion=version)
    assert payload["errors"] == [] and [e["type"] for e in events] == ["ServerDeleted"]


@pytest.mark.parametrize(
    ("bearer", "code"),
    [
        (token("clerk", roles=["user"]), "FORBIDDEN"),
        (token("clerk", roles=[]), "FORBIDDEN"),
        ("not-a-jwt", "UNAUTHENTICATED"),
    ],
    ids=["user role", "no roles", "bad token"],
)
async def test_only_an_admin_may_restore_and_a_refusal_appends_nothing(api: Api, bearer: str, code: str):
    await api.add(manual("tokyo"))
    as_of = await last_position(api)
    await api.mutate("deleteAllMailServers", None)
    before = await last_position(api)
    body = await api.post(
        "mutation R($input: RestoreMailServersInput!) { restoreMailServers(input: $input) { errors { code } } }",
        {"input": {"asOf": as_of}},
        bearer=bearer,
    )
    assert [e["extensions"]["code"] for e in body["errors"]] == [code]
    assert await api.events(after=before) == []
    assert (await api.servers())["items"] == []
