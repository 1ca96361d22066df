"""Abusive requests are refused before any database work: the app's engine runs
no SQL at all for them (the live feed is stopped, so every statement it runs
belongs to the request). In-process on PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.e2e.hardening import (
    MIB,
    Harness,
    abuse,
    abuse_summary,  # noqa: F401 - fixture
    add,
    fleet_warmup,  # noqa: F401 - fixture
    fresh,
    in_process,
    padded_body,
    pg_database,
    tokens,
)

pytestmark = [pytest.mark.postgres, pytest.mark.usefixtures("fleet_warmup", "abuse_summary")]

CHEAP_TO_REFUSE: dict[str, Any] = {
    "body_size": lambda: {"body": padded_body("{ __typename }", MIB + 1)},
    "batching": lambda: {"body": [{"query": "{ mailServerChoices { id } }"}]},
    "invalid_json": lambda: {"body": b"{bad"},
    "media_type": lambda: {"body": b"{ mailServerChoices { id } }", "headers": {"Content-Type": "application/graphql"}},
    "aliases (mutation)": lambda: {
        "body": {"query": "mutation { " + " ".join(f"a{n}: {add(fresh())}" for n in range(51)) + " }"}
    },
}

QUERY_LIMITS: dict[str, Any] = {
    "depth (query)": lambda: {"body": {"query": "{ mailServers { items { " + "x { " * 25 + "y" + " }" * 25 + " } } }"}},
    "aliases (query)": lambda: {
        "body": {"query": "{ " + " ".join(f"c{n}: mailServerChoices {{ id }}" for n in range(51)) + " }"}
    },
    "tokens (query)": lambda: {"body": {"query": tokens(5001)}},
}


@pytest.fixture(scope="module")
async def quiet(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Harness]:
    async with pg_database() as url, in_process(url, tmp_path_factory.mktemp("quiet"), quiet=True) as harness:
        yield harness


@pytest.mark.parametrize(
    "kind",
    [
        *CHEAP_TO_REFUSE,
        *QUERY_LIMITS,
    ],
)
async def test_a_refused_request_runs_no_sql_at_all(quiet: Harness, kind: str):
    request = {**CHEAP_TO_REFUSE, **QUERY_LIMITS}[kind]()
    async with abuse(kind.split(" ")[0]), quiet.log.unchanged():
        quiet.statements.clear()
        response = await quiet.post(request["body"], bearer=None, headers=request.get("headers"))
        assert response.status_code in (200, 400, 413, 415), response.text
        assert response.json().get("data") is None and response.json()["errors"], response.text
    assert quiet.statements == [], f"{kind}: {quiet.statements}"
