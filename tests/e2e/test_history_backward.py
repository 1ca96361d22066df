"""The log read backward (contract v2): `events(last:, before:)`, newest first
with edges still oldest first, `hasPreviousPage`/`startCursor`, and the
combinations that are BAD_USER_INPUT."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from tests.e2e.live import EVENT_FIELDS, Api, Json, fresh_database, in_process, manual
from tests.support import token

pytestmark = pytest.mark.postgres

BACKWARD = (
    EVENT_FIELDS
    + """
query Events($filter: EventFilter, $first: Int, $after: String, $last: Int, $before: String) {
  events(filter: $filter, first: $first, after: $after, last: $last, before: $before) {
    edges { cursor node { ...EventFields } }
    pageInfo { hasNextPage endCursor hasPreviousPage startCursor }
  }
}"""
)


@dataclass
class Log:
    api: Api
    nodes: list[Json]  # every event, oldest first
    ids: dict[str, str]  # code -> server id

    def positions(self, *numbers: int) -> list[str]:
        """The positions of the story's events by their 1-based numbers."""
        return [str(self.nodes[n - 1]["position"]) for n in numbers]

    async def page(self, **variables: object) -> Json:
        result: Json = (await self.api.data(BACKWARD, dict(variables)))["events"]
        return result


@pytest.fixture(scope="module")
async def log(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Log]:
    """Nine events by two actors: add, add, add, change, reorder, delete, add, change, add."""
    async with fresh_database() as url, in_process(url, tmp_path_factory.mktemp("backward")) as api:
        ids: dict[str, str] = {}

        async def add(code: str, actor: str) -> None:
            ids[code] = (await api.add(manual(code), bearer=token(actor)))["id"]

        await add("tokyo", "alice")
        await add("osaka", "bob")
        await add("nagoya", "alice")
        await api.mutate("changeMailServer", {"id": ids["osaka"], "name": "Osaka"}, bearer=token("bob"))
        order = [ids["nagoya"], ids["osaka"], ids["tokyo"]]
        await api.mutate("reorderMailServers", {"ids": order}, bearer=token("alice"))
        await api.mutate("deleteMailServer", {"id": ids["nagoya"]}, bearer=token("bob"))
        await add("kobe", "alice")
        await api.mutate("changeMailServer", {"id": ids["tokyo"], "name": "Tokyo"}, bearer=token("bob"))
        await add("sapporo", "alice")
        nodes = await api.events()
        assert len(nodes) == 9
        yield Log(api=api, nodes=nodes, ids=ids)


def positions(page: Json) -> list[str]:
    return [edge["node"]["position"] for edge in page["edges"]]


@pytest.mark.parametrize("last", [1, 3, 9, 500])
async def test_last_gives_the_newest_events_oldest_first(log: Log, last: int):
    page = await log.page(last=last)
    newest = list(range(max(1, 10 - last), 10))
    assert positions(page) == log.positions(*newest)
    assert [edge["node"] for edge in page["edges"]] == log.nodes[-last:]
    assert page["pageInfo"] == {
        "hasNextPage": False,
        "endCursor": log.positions(9)[0],
        "hasPreviousPage": last < 9,
        "startCursor": log.positions(newest[0])[0],
    }


@pytest.mark.parametrize("last", [1, 2, 4, 8, 9])
async def test_paging_back_with_before_reaches_the_start_once_each(log: Log, last: int):
    pages, before = [], None
    while True:
        page = await log.page(last=last, before=before)
        pages.append(page)
        assert len(page["edges"]) == min(last, 9 - sum(len(p["edges"]) for p in pages[:-1]))
        assert page["pageInfo"]["startCursor"] == page["edges"][0]["cursor"]
        assert page["pageInfo"]["hasNextPage"] is (before is not None)
        if not page["pageInfo"]["hasPreviousPage"]:
            break
        before = page["pageInfo"]["startCursor"]
    seen = [edge["node"] for page in reversed(pages) for edge in page["edges"]]
    assert seen == log.nodes
    assert len(pages) == -(-9 // last)


async def test_before_excludes_the_event_at_the_cursor(log: Log):
    page = await log.page(last=2, before=log.positions(5)[0])
    assert positions(page) == log.positions(3, 4)
    assert page["pageInfo"]["hasPreviousPage"] is True and page["pageInfo"]["hasNextPage"] is True


async def test_before_the_first_event_is_an_empty_page_with_null_cursors(log: Log):
    page = await log.page(last=5, before=log.positions(1)[0])
    assert page == {
        "edges": [],
        "pageInfo": {"hasNextPage": True, "endCursor": None, "hasPreviousPage": False, "startCursor": None},
    }


async def test_a_filter_matching_nothing_gives_an_empty_page_with_null_cursors(log: Log):
    page = await log.page(last=5, filter={"actor": "nobody"})
    assert page == {
        "edges": [],
        "pageInfo": {"hasNextPage": False, "endCursor": None, "hasPreviousPage": False, "startCursor": None},
    }


async def test_last_combines_with_the_type_and_actor_filters(log: Log):
    adds = await log.page(last=2, filter={"types": ["ServerAdded"]})
    assert positions(adds) == log.positions(7, 9)
    assert adds["pageInfo"]["hasPreviousPage"] is True
    older = await log.page(last=2, filter={"types": ["ServerAdded"]}, before=adds["pageInfo"]["startCursor"])
    assert positions(older) == log.positions(2, 3)
    by_bob = await log.page(last=10, filter={"actor": "bob"})
    assert positions(by_bob) == log.positions(2, 4, 6, 8)
    assert by_bob["pageInfo"]["hasPreviousPage"] is False
    window = await log.page(
        last=1, filter={"from": log.nodes[1]["occurredAt"], "to": log.nodes[6]["occurredAt"], "actor": "alice"}
    )
    assert positions(window) == log.positions(5)
    assert window["pageInfo"]["hasPreviousPage"] is True  # the add of nagoya, at 3


async def test_last_over_one_servers_history_includes_the_list_events_that_touched_it(log: Log):
    tokyo = log.ids["tokyo"]  # added at 1, moved by the reorder at 5, renamed at 8
    newest = await log.page(last=2, filter={"streamId": tokyo})
    assert positions(newest) == log.positions(5, 8)
    assert newest["pageInfo"]["hasPreviousPage"] is True
    rest = await log.page(last=2, filter={"streamId": tokyo}, before=newest["pageInfo"]["startCursor"])
    assert positions(rest) == log.positions(1)
    assert rest["pageInfo"]["hasPreviousPage"] is False and rest["pageInfo"]["hasNextPage"] is True


async def test_forward_pages_say_whether_events_lie_before_them(log: Log):
    first_page = await log.page(first=3)
    assert first_page["pageInfo"]["hasPreviousPage"] is False
    assert first_page["pageInfo"]["startCursor"] == log.positions(1)[0]
    second = await log.page(first=3, after=first_page["pageInfo"]["endCursor"])
    assert positions(second) == log.positions(4, 5, 6)
    assert second["pageInfo"]["hasPreviousPage"] is True
    by_bob_after_one = await log.page(first=3, after=log.positions(1)[0], filter={"actor": "bob"})
    assert by_bob_after_one["pageInfo"]["hasPreviousPage"] is False  # event 1 is alice's


@pytest.mark.parametrize(
    "arguments",
    [
        {"first": 5, "last": 5},
        {"first": 100, "last": 5},
        {"after": "1", "before": "2", "last": 5},
        {"after": "1", "before": "2"},
        {"last": 5, "before": "999999"},
        {"last": 5, "before": "abc"},
        {"last": 5, "before": "0"},
        {"last": 0},
        {"last": -1},
        {"last": 501},
    ],
    ids=[
        "first and last",
        "first at its default value and last",
        "after and before",
        "after and before without last",
        "unknown before",
        "before not a number",
        "before zero",
        "last zero",
        "last negative",
        "last too large",
    ],
)
async def test_contradictory_or_out_of_range_arguments_are_bad_user_input(log: Log, arguments: Json):
    variables = {
        k: log.positions(int(v))[0] if k in ("after", "before") and v in ("1", "2") else v for k, v in arguments.items()
    }
    assert await log.api.rejected(BACKWARD, variables) == ["BAD_USER_INPUT"]


async def test_backward_paging_is_for_admins_only(log: Log):
    bearer = token("clerk", roles=["user"])
    assert await log.api.rejected(BACKWARD, {"last": 5}, bearer=bearer) == ["FORBIDDEN"]
