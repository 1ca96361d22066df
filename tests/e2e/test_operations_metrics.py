"""Prometheus metrics at /metrics: every family the issue names, in text format,
with values that move when you act. In-process on SQLite, plus a real server
for the active-subscriptions gauge."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.conftest import sqlite_url
from tests.e2e.hardening import (
    NON_ADMIN_TOKENS,
    Fleet,
    Harness,
    Socket,
    add,
    eventually,
    fleet,  # noqa: F401 - fixture
    fleet_warmup,  # noqa: F401 - fixture
    in_process,
)

pytestmark = pytest.mark.usefixtures("fleet_warmup")

FAMILIES = {
    "mailreg_graphql_requests_total": "counter",
    "mailreg_graphql_request_duration_seconds": "histogram",
    "mailreg_events_appended_total": "counter",
    "mailreg_user_errors_total": "counter",
    "mailreg_active_subscriptions": "gauge",
    "mailreg_notification_lag_seconds": "histogram",
}


Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def samples(text: str) -> Samples:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(found: Samples, name: str, **labels: str) -> float:
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.fixture(scope="module")
async def site(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Harness]:
    folder = tmp_path_factory.mktemp("ops")
    async with in_process(sqlite_url(folder), folder) as harness:
        yield harness


async def scrape(http: httpx.AsyncClient) -> Samples:
    response = await http.get("/metrics")
    assert response.status_code == 200
    return samples(response.text)


async def test_metrics_are_prometheus_text_with_every_family(site: Harness):
    response = await site.http.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    for name, kind in FAMILIES.items():
        family = name.removesuffix("_total")
        assert re.search(rf"^# HELP {family}(_total)? \S", response.text, re.MULTILINE), name
        assert re.search(rf"^# TYPE {family}(_total)? {kind}$", response.text, re.MULTILINE), name
    assert {f.name for f in text_string_to_metric_families(response.text)} >= {
        name.removesuffix("_total") for name in FAMILIES
    }


async def test_metric_values_move_when_you_act(site: Harness):
    before = await scrape(site.http)
    code = f"ops-{uuid.uuid4().hex[:8]}"
    assert (await site.gql(f"mutation {{ {add(code)} }}"))["data"]["addMailServer"]["errors"] == []
    errors = (await site.gql(f"mutation {{ {add(code + '-bad', port=70000)} }}"))["data"]["addMailServer"]["errors"]
    assert errors == [{"code": "OUT_OF_RANGE"}]
    assert "errors" not in await site.gql("{ mailServers { totalCount } }")

    async def lag_observed() -> Samples | None:
        after = await scrape(site.http)
        grown = value(after, "mailreg_notification_lag_seconds_count") > value(
            before, "mailreg_notification_lag_seconds_count"
        )
        return after if grown else None

    after = await eventually(lag_observed)
    assert after, "the notification lag was never observed"

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("mailreg_graphql_requests_total", operation="addMailServer", outcome="ok") == 2
    assert moved("mailreg_graphql_requests_total", operation="mailServers", outcome="ok") == 1
    assert moved("mailreg_graphql_request_duration_seconds_count", operation="addMailServer") == 2
    assert moved("mailreg_graphql_request_duration_seconds_sum", operation="addMailServer") > 0
    assert moved("mailreg_events_appended_total", type="ServerAdded") == 1
    assert moved("mailreg_user_errors_total", code="OUT_OF_RANGE") == 1


async def test_refused_operations_are_counted_under_their_own_name(site: Harness):
    before = await scrape(site.http)
    await site.gql("{ mailServers { totalCount } }", bearer=NON_ADMIN_TOKENS["no roles"])
    await site.gql("{ mailServers { totalCount } }", bearer=None)
    after = await scrape(site.http)
    for outcome in ("forbidden", "unauthenticated"):
        labels = {"operation": "mailServers", "outcome": outcome}
        assert (
            value(after, "mailreg_graphql_requests_total", **labels)
            - value(before, "mailreg_graphql_requests_total", **labels)
            == 1
        ), outcome


async def test_every_read_is_counted_even_when_served_from_the_cache(site: Harness):
    query = f"query Q{uuid.uuid4().hex} {{ mailServerChoices {{ id }} }}"
    before = await scrape(site.http)
    for _ in range(3):
        assert "errors" not in await site.gql(query)
    after = await scrape(site.http)
    labels = {"operation": "mailServerChoices", "outcome": "ok"}
    assert (
        value(after, "mailreg_graphql_requests_total", **labels)
        - value(before, "mailreg_graphql_requests_total", **labels)
        == 3
    )


@pytest.mark.slow
@pytest.mark.postgres
async def test_active_subscriptions_are_a_gauge_that_follows_the_sockets(fleet: Fleet):  # noqa: F811
    labels = {"field": "mailServerChoicesChanged"}
    async with httpx.AsyncClient(base_url=fleet.shared.url, timeout=10) as http:

        async def settled() -> list[float]:  # sockets other tests closed may still be winding down
            first = value(await scrape(http), "mailreg_active_subscriptions", **labels)
            await asyncio.sleep(0.3)
            return [first] if first == value(await scrape(http), "mailreg_active_subscriptions", **labels) else []

        (base,) = await eventually(settled)
        async with Socket.signed_in(fleet.shared.ws_url) as socket:
            for number in range(3):
                await socket.subscribe(str(number), "subscription { mailServerChoicesChanged { id } }")
                assert (await socket.receive())["type"] == "next"

            async def three_open() -> bool:
                return value(await scrape(http), "mailreg_active_subscriptions", **labels) == base + 3

            assert await eventually(three_open)
            await socket.send({"id": "0", "type": "complete"})

            async def two_open() -> bool:
                return value(await scrape(http), "mailreg_active_subscriptions", **labels) == base + 2

            assert await eventually(two_open)

        async def none_open() -> bool:
            return value(await scrape(http), "mailreg_active_subscriptions", **labels) == base

        assert await eventually(none_open)
