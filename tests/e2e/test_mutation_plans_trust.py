"""A mutation plan answers only once its answer equalled Strawberry's: a plan that writes other
bytes for the outcome Strawberry's resolver saw is refused, and Strawberry keeps answering its
document (in-process, so that the plan can be made to write the wrong bytes)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import httpx
import pytest

from api.mutation_plans import MutationPlan
from tests.e2e import documents as doc
from tests.e2e.conftest import sqlite_url
from tests.e2e.hardening import Harness, in_process

RENAME = (
    "mutation ($id: ID!, $name: String!) { changeMailServer(input: {id: $id, name: $name}) "
    "{ server { name version } errors { code } } }"
)


@pytest.fixture(scope="module")
async def site(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Harness]:
    folder = tmp_path_factory.mktemp("trust")
    async with in_process(sqlite_url(folder), folder) as harness:
        yield harness


def _operation_lines(caplog: pytest.LogCaptureFixture, response: httpx.Response) -> list[logging.LogRecord]:
    request_id = response.headers["x-request-id"]
    return [r for r in caplog.records if getattr(r, "request_id", None) == request_id]


async def _renames(
    site: Harness, document: str, server_id: str, caplog: pytest.LogCaptureFixture, count: int
) -> list[str]:
    """Which path answered each of `count` renames: 'plan' (one line, standing for the access line too)
    or 'strawberry' (an access line and an operation line)."""
    paths = []
    for n in range(count):
        response = await site.post({"query": document, "variables": {"id": server_id, "name": f"Name {n}"}})
        assert response.json()["data"]["changeMailServer"] == {
            "server": {"name": f"Name {n}", "version": n + 2},
            "errors": [],
        }
        lines = _operation_lines(caplog, response)
        paths.append("plan" if len(lines) == 1 and getattr(lines[0], "status", None) == 200 else "strawberry")
    return paths


async def test_a_plan_is_used_once_its_answer_equalled_strawberrys(
    site: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    server_id = (await site.gql(doc.ADD, {"input": doc.manual("trusted")}))["data"]["addMailServer"]["server"]["id"]
    with caplog.at_level(logging.INFO, logger="mailreg"):
        assert await _renames(site, RENAME, server_id, caplog, 3) == ["strawberry", "plan", "plan"]


async def test_a_plan_whose_answer_differs_from_strawberrys_is_never_used(
    site: Harness, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    server_id = (await site.gql(doc.ADD, {"input": doc.manual("refused")}))["data"]["addMailServer"]["server"]["id"]
    render = MutationPlan.render
    monkeypatch.setattr(MutationPlan, "render", lambda self, r, e: render(self, r, e).replace(b"version", b"v"))
    # A document of its own (the trailing comment), so that no earlier request proved its plan.
    with caplog.at_level(logging.INFO, logger="mailreg"):
        assert await _renames(site, RENAME + " # refused", server_id, caplog, 3) == ["strawberry"] * 3
    assert any("differed from GraphQL's" in r.getMessage() for r in caplog.records)
