"""The `events` query and mailServersAsOf over a known history: pages, filters,
the typed fields of each event type, actors and correlation ids, and the
arguments that are BAD_USER_INPUT."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from tests.e2e.live import AS_OF, EVENTS, Api, Json, fresh_database, in_process, manual
from tests.support import token

pytestmark = pytest.mark.postgres


@dataclass
class History:
    api: Api
    log: list[Json]  # every event, oldest first
    ids: dict[str, str]  # code -> server id
    added: dict[str, Json]  # code -> the server as the add mutation returned it

    def position(self, number: int) -> str:
        """The position of the event the story appended as its `number`th (1-based)."""
        return str(self.log[number - 1]["position"])


@pytest.fixture(scope="module")
async def history(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[History]:
    """Nine events by two actors: add, add, add, change, reorder, delete, add, delete all, add."""
    async with fresh_database() as url, in_process(url, tmp_path_factory.mktemp("events")) as api:
        added: dict[str, Json] = {}

        async def add(code: str, actor: str, request: str | None) -> None:
            headers = {"X-Request-ID": request} if request else None
            added[code] = await api.add(manual(code, f"Office {code}"), bearer=token(actor), headers=headers)

        await add("tokyo", "alice", "req-1")
        await add("osaka", "alice", "req-2")
        await add("nagoya", "bob", "req-3")
        ids = {code: server["id"] for code, server in added.items()}
        await api.mutate(
            "changeMailServer",
            {
                "id": ids["osaka"],
                "outgoing": {"port": 587, "encryption": "STARTTLS"},
                "incoming": {"useTls": True},
            },
            bearer=token("bob"),
            headers={"X-Request-ID": "req-4"},
        )
        await api.mutate(
            "reorderMailServers",
            {"ids": [ids["nagoya"], ids["tokyo"], ids["osaka"]]},
            bearer=token("alice"),
            headers={"X-Request-ID": "req-5"},
        )
        await api.mutate(
            "deleteMailServer", {"id": ids["nagoya"]}, bearer=token("bob"), headers={"X-Request-ID": "req-6"}
        )
        await add("kobe", "alice", "req-7")
        ids["kobe"] = added["kobe"]["id"]
        await api.mutate("deleteAllMailServers", None, bearer=token("bob"), headers={"X-Request-ID": "req-8"})
        await add("sapporo", "alice", None)
        ids["sapporo"] = added["sapporo"]["id"]
        log = await api.events()
        assert len(log) == 9
        yield History(api=api, log=log, ids=ids, added=added)


def positions(nodes: list[Json]) -> list[str]:
    return [node["position"] for node in nodes]


@pytest.mark.parametrize("first", [1, 2, 3, 4, 9, 10, 100, 500])
async def test_pages_of_any_size_hold_the_whole_log_once_in_order(history: History, first: int):
    pages, after = [], None
    while True:
        page = await history.api.page(first=first, after=after)
        pages.append(page)
        assert len(page["edges"]) <= first
        for edge in page["edges"]:
            assert edge["cursor"] == edge["node"]["position"]
        if page["edges"]:
            assert page["pageInfo"]["endCursor"] == page["edges"][-1]["cursor"]
        if not page["pageInfo"]["hasNextPage"]:
            break
        assert len(page["edges"]) == first
        after = page["pageInfo"]["endCursor"]
    seen = [edge["node"] for page in pages for edge in page["edges"]]
    assert seen == history.log
    assert len(pages) == max(1, -(-len(history.log) // first))
    numbers = [int(p) for p in positions(seen)]
    assert numbers == sorted(set(numbers))


async def test_the_page_after_the_last_event_is_empty(history: History):
    page = await history.api.page(after=history.position(9))
    assert page == {"edges": [], "pageInfo": {"hasNextPage": False, "endCursor": None}}


async def test_first_defaults_to_a_page_of_one_hundred(history: History):
    body = await history.api.data("query { events { edges { cursor } pageInfo { hasNextPage } } }")
    assert len(body["events"]["edges"]) == 9 and body["events"]["pageInfo"]["hasNextPage"] is False


@pytest.mark.parametrize("first", [0, -1, 501, 10_000])
async def test_first_outside_one_to_five_hundred_is_bad_user_input(history: History, first: int):
    assert await history.api.rejected(EVENTS, {"first": first}) == ["BAD_USER_INPUT"]


@pytest.mark.parametrize("after", ["999999", "0", "abc", "", "-1", "1.5", "99999999999999999999999"])
async def test_an_unknown_after_cursor_is_bad_user_input(history: History, after: str):
    assert await history.api.rejected(EVENTS, {"after": after}) == ["BAD_USER_INPUT"]


async def test_filtering_by_types(history: History):
    changes = await history.api.events(filter={"types": ["ServerChanged", "ServersReordered"]})
    assert [n["type"] for n in changes] == ["ServerChanged", "ServersReordered"]
    adds = await history.api.events(filter={"types": ["ServerAdded"]}, first=2)
    assert positions(adds) == [history.position(n) for n in (1, 2, 3, 7, 9)]
    assert await history.api.events(filter={"types": ["NoSuchType"]}) == []


@pytest.mark.parametrize(
    ("code", "numbers"),
    [
        ("osaka", [2, 4, 5, 8]),  # added, changed, moved by the reorder, deleted with all
        ("nagoya", [3, 5, 6]),
        ("kobe", [7, 8]),
        ("sapporo", [9]),
    ],
)
async def test_filtering_by_stream_gives_one_servers_history_with_the_list_events_that_touched_it(
    history: History, code: str, numbers: list[int]
):
    nodes = await history.api.events(filter={"streamId": history.ids[code]}, first=1)
    assert positions(nodes) == [history.position(n) for n in numbers]


async def test_filtering_by_an_unknown_stream_finds_nothing(history: History):
    assert await history.api.events(filter={"streamId": "no-such-server"}) == []


async def test_filtering_by_actor(history: History):
    by_bob = await history.api.events(filter={"actor": "bob"})
    assert positions(by_bob) == [history.position(n) for n in (3, 4, 6, 8)]
    assert {n["actor"] for n in by_bob} == {"bob"}
    assert await history.api.events(filter={"actor": "nobody"}) == []


async def test_from_is_inclusive_and_to_is_exclusive(history: History):
    at = {n: history.log[n - 1]["occurredAt"] for n in range(1, 10)}
    since_four = await history.api.events(filter={"from": at[4]})
    assert positions(since_four) == [history.position(n) for n in range(4, 10)]
    before_six = await history.api.events(filter={"to": at[6]})
    assert positions(before_six) == [history.position(n) for n in range(1, 6)]
    window = await history.api.events(filter={"from": at[4], "to": at[6], "actor": "alice"})
    assert positions(window) == [history.position(5)]
    assert await history.api.events(filter={"from": at[6], "to": at[6]}) == []


async def test_a_server_added_event_carries_the_server_as_added(history: History):
    node = history.log[1]
    assert (node["type"], node["streamId"], node["streamVersion"]) == ("ServerAdded", history.ids["osaka"], 1)
    assert node["server"] == history.added["osaka"]
    assert node["occurredAt"] == node["server"]["createdAt"] == node["server"]["updatedAt"]


async def test_a_server_changed_event_lists_dotted_fields_with_api_values(history: History):
    node = history.log[3]
    assert (node["type"], node["streamId"], node["streamVersion"]) == ("ServerChanged", history.ids["osaka"], 2)
    assert sorted(node["changes"], key=lambda c: c["field"]) == [
        {"field": "incoming.useTls", "before": False, "after": True},
        {"field": "outgoing.encryption", "before": "NONE", "after": "STARTTLS"},
        {"field": "outgoing.port", "before": 25, "after": 587},
    ]


async def test_a_reorder_event_carries_the_order_before_and_after(history: History):
    node, ids = history.log[4], history.ids
    assert node["type"] == "ServersReordered"
    assert node["before"] == [ids["tokyo"], ids["osaka"], ids["nagoya"]]
    assert node["after"] == [ids["nagoya"], ids["tokyo"], ids["osaka"]]


async def test_a_delete_event_carries_the_code_and_name_it_had(history: History):
    node = history.log[5]
    assert (node["type"], node["streamId"], node["streamVersion"]) == ("ServerDeleted", history.ids["nagoya"], 2)
    assert (node["code"], node["name"]) == ("nagoya", "Office nagoya")


async def test_a_delete_all_event_carries_the_ids_in_list_order(history: History):
    node, ids = history.log[7], history.ids
    assert node["type"] == "AllServersDeleted"
    assert node["deletedIds"] == [ids["tokyo"], ids["osaka"], ids["kobe"]]


async def test_every_event_names_the_tokens_subject_and_the_request_id(history: History):
    actors = ["alice", "alice", "bob", "bob", "alice", "bob", "alice", "bob", "alice"]
    assert [n["actor"] for n in history.log] == actors
    assert [n["correlationId"] for n in history.log] == [f"req-{n}" for n in range(1, 9)] + [None]
    assert all(isinstance(n["data"], dict) and n["data"] for n in history.log)


async def test_the_list_events_share_one_stream_with_its_own_versions(history: History):
    reorder, delete_all = history.log[4], history.log[7]
    assert reorder["streamId"] == delete_all["streamId"]
    assert reorder["streamId"] not in history.ids.values()
    assert (reorder["streamVersion"], delete_all["streamVersion"]) == (1, 2)


async def test_as_of_a_position_is_the_list_just_after_that_event(history: History):
    ids = history.ids
    after_reorder = await history.api.as_of(position=history.position(5))
    assert [s["id"] for s in after_reorder["items"]] == [ids["nagoya"], ids["tokyo"], ids["osaka"]]
    assert [s["position"] for s in after_reorder["items"]] == [1, 2, 3]
    assert after_reorder["version"] == 4  # three adds and a reorder; the change does not count
    after_delete_all = await history.api.as_of(position=history.position(8))
    assert (after_delete_all["totalCount"], after_delete_all["items"]) == (0, [])


async def test_as_of_a_time_includes_the_event_at_exactly_that_time(history: History):
    at_change = history.log[3]["occurredAt"]
    listed = await history.api.as_of(at=at_change)
    assert listed == await history.api.as_of(position=history.position(4))
    osaka = next(s for s in listed["items"] if s["code"] == "osaka")
    assert osaka["outgoing"]["encryption"] == "STARTTLS"


@pytest.mark.parametrize(
    "arguments",
    [
        {},
        {"position": "1", "at": "2026-01-01T00:00:00+00:00"},
        {"position": "999999"},
        {"position": "abc"},
        {"position": "0"},
    ],
    ids=["neither", "both", "unknown", "not a number", "zero"],
)
async def test_as_of_needs_exactly_one_known_argument(history: History, arguments: Json):
    if "position" in arguments and arguments["position"] == "1":
        arguments = {**arguments, "position": history.position(1)}
    assert await history.api.rejected(AS_OF, arguments) == ["BAD_USER_INPUT"]


@pytest.mark.parametrize("query", [EVENTS, AS_OF])
async def test_history_is_for_admins_only(history: History, query: str):
    variables = {"position": history.position(1)} if query == AS_OF else {}
    assert await history.api.rejected(query, variables, bearer=token("clerk", roles=["user"])) == ["FORBIDDEN"]
    assert await history.api.rejected(query, variables, bearer="not-a-jwt") == ["UNAUTHENTICATED"]
