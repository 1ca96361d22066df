"""Document limits on /graphql: depth over 20 (introspection included), over 50
aliases (fragment spreads multiplied out), over 5,000 tokens. Each abusive
document gets a top-level error before any resolver runs, and nothing is
appended to the event log (checked with SQL). In-process on PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import graphql
import pytest
from graphql.language.lexer import Lexer

from tests.e2e.hardening import (
    ADMIN,
    Harness,
    abuse,
    abuse_summary,  # noqa: F401 - fixture
    add,
    fleet_warmup,  # noqa: F401 - fixture
    fresh,
    in_process,
    lex,
    pg_database,
    tokens,
)

pytestmark = [pytest.mark.postgres, pytest.mark.usefixtures("fleet_warmup", "abuse_summary")]


def nested_of_type(levels: int) -> str:
    """Introspection `levels + 1` deep: __type, then `levels` nested ofType."""
    return '{ __type(name: "Query") { ' + "ofType { " * levels + "name" + " }" * levels + " } }"


def cyclic_introspection(turns: int) -> str:
    """__schema.types, then `turns` times fields.type: 2 + 2*turns deep."""
    return "{ __schema { types { " + "fields { type { " * turns + "name" + " } }" * turns + " } } }"


def messages(body: dict[str, Any]) -> str:
    return " ".join(error.get("message", "") for error in body.get("errors", []))


@pytest.fixture(scope="module")
async def site(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Harness]:
    async with pg_database() as url, in_process(url, tmp_path_factory.mktemp("abuse")) as harness:
        yield harness


async def refused_gql(site: Harness, kind: str, query: str, *, needle: str) -> None:
    """A document refused with a top-level error mentioning `needle`, appending nothing."""
    async with abuse(kind), site.log.unchanged():
        response = await site.post({"query": query})
        assert response.status_code in (200, 400), response.text
        body = response.json()
        assert body.get("data") is None, body
        assert needle in messages(body), body


# ------------------------------------------------------------ depth


async def test_operations_deeper_than_20_levels_are_refused(site: Harness):
    for levels in (20, 40):
        nested = "errors " + "{ x " * levels + "}" * levels
        deep = "mutation { " + add(fresh()).replace("errors { code }", nested) + " }"
        await refused_gql(site, "depth", deep, needle="exceeds maximum operation depth of 20")


async def test_introspection_counts_towards_the_depth_limit(site: Harness):
    executed = []
    for query in (nested_of_type(20), nested_of_type(60), cyclic_introspection(10)):
        try:
            await refused_gql(site, "depth", query, needle="exceeds maximum operation depth of 20")
        except AssertionError:
            executed.append(query[:60])
    assert executed == []


async def test_introspection_at_depth_20_and_graphiqls_own_query_still_work(site: Harness):
    full = graphql.get_introspection_query(
        descriptions=True,
        specified_by_url=True,
        directive_is_repeatable=True,
        schema_description=True,
        input_value_deprecation=True,
        one_of=True,
    )
    for query in (nested_of_type(19), graphql.get_introspection_query(), full):
        body = await site.gql(query)
        assert "errors" not in body, body["errors"]
    response = await site.http.get(
        "/graphql",
        params={"query": graphql.get_introspection_query()},
        headers={"Authorization": f"Bearer {ADMIN}", "Accept": "application/json"},
    )
    assert response.status_code == 200 and "errors" not in response.json(), response.text
    assert response.json()["data"]["__schema"]["mutationType"] == {"name": "Mutation", "kind": "OBJECT"}


# ------------------------------------------------------------ aliases


async def test_more_than_50_aliases_are_refused(site: Harness):
    aliased = " ".join(f"a{n}: {add(fresh())}" for n in range(51))
    await refused_gql(site, "aliases", f"mutation {{ {aliased} }}", needle="51 aliases found. Allowed: 50")
    choices = " ".join(f"c{n}: mailServerChoices {{ id }}" for n in range(51))
    await refused_gql(site, "aliases", f"{{ {choices} }}", needle="51 aliases")


async def test_aliases_multiplied_through_fragment_spreads_are_counted(site: Harness):
    ten = " ".join(f"a{n}: {add(fresh())}" for n in range(10))
    spread_six = "mutation { " + "...F " * 6 + "} fragment F on Mutation { " + ten + " }"
    await refused_gql(site, "aliases", spread_six, needle="60 aliases")
    nested = "mutation { ...G ...G ...G } fragment G on Mutation { ...F ...F } fragment F on Mutation { " + ten + " }"
    await refused_gql(site, "aliases", nested, needle="60 aliases")


async def test_50_aliases_are_allowed(site: Harness):
    choices = " ".join(f"c{n}: mailServerChoices {{ id }}" for n in range(50))
    body = await site.gql(f"{{ {choices} }}")
    assert "errors" not in body and len(body["data"]) == 50, body


# ------------------------------------------------------------ tokens


async def test_documents_of_more_than_5000_tokens_are_refused(site: Harness):
    await refused_gql(site, "tokens", tokens(5001), needle="more than 5000 tokens")
    padded = "mutation { " + add(fresh()).replace("errors { code }", "errors { code } " + "__typename " * 5000) + " }"
    await refused_gql(site, "tokens", padded, needle="more than 5000 tokens")


async def test_a_document_of_exactly_5000_tokens_is_allowed(site: Harness):
    assert len(list(lex(tokens(5000)))) == 5000
    body = await site.gql(tokens(5000))
    assert body == {"data": {"events": {"__typename": "EventConnection"}}}


async def test_an_over_limit_document_is_not_lexed_beyond_the_limit(site: Harness, monkeypatch: pytest.MonkeyPatch):
    lexed = 0
    original = Lexer.read_next_token

    def counting(self: Lexer, start: int) -> Any:
        nonlocal lexed
        lexed += 1
        return original(self, start)

    monkeypatch.setattr(Lexer, "read_next_token", counting)
    document = "{" + " a" * 25_000 + f" {fresh().replace('-', '_')} }}"
    async with abuse("tokens"), site.log.unchanged():
        response = await site.post({"query": document}, bearer=None)
        assert "more than 5000 tokens" in response.text
    assert lexed <= 3 * 5001, f"{lexed} tokens lexed for a document refused at 5,000"
