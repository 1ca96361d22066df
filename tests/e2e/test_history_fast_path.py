"""The audit pages and the list as it was are completed without graphql-core's
per-field machinery (api/fast_completion.py) and built straight from folds
(api/listed.py): their bytes must equal plain Strawberry execution's."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

import api.history
from api.auth import Principal
from api.context import Context
from api.fast_completion import HistoryExecutionContext
from api.schema import schema
from api.services import Services
from tests.e2e.conftest import BACKENDS, played_services

SERVER = """
fragment Server on MailServer {
  id code name position oauthProvider version createdAt updatedAt
  outgoing { host port encryption authMethod credentials timeoutSeconds }
  incoming { protocol host port useTls useApop timeoutSeconds }
}
"""
EVERY_EVENT_FIELD = """
fragment Common on DomainEvent { position streamId streamVersion type occurredAt actor correlationId data }
query($filter: EventFilter, $first: Int, $after: String, $withData: Boolean!) {
  events(filter: $filter, first: $first, after: $after) {
    edges { cursor node { __typename ...Common data @include(if: $withData)
      ... on ServerAdded { server { ...Server } }
      ... on ServerChanged { changes { field before after } }
      ... on ServersReordered { before after }
      ... on ServerDeleted { code name }
      ... on AllServersDeleted { deletedIds } } }
    pageInfo { hasNextPage endCursor }
  }
}
"""
ALIASED = """
query($filter: EventFilter) {
  page: events(filter: $filter, first: 50) {
    edges { at: cursor node { kind: type p: position position
      ... on ServerChanged { changes { field } c2: changes { after } } } }
    pageInfo { more: hasNextPage }
  }
  again: events(first: 3) { edges { node { __typename actor } } }
}
"""
AS_OF_POSITION = """
query($p: String!) { mailServersAsOf(position: $p) { __typename version totalCount items { ...Server } } }
"""
AS_OF_FEW = """
query($p: String!) { mailServersAsOf(position: $p) { version totalCount items { id code name position } } }
"""
AS_OF_TIME = """
query($at: DateTime!, $skip: Boolean!) {
  mailServersAsOf(at: $at) { version items { id code @skip(if: $skip) outgoing { host encryption } oauthProvider } }
}
"""


@pytest.fixture(scope="module", params=BACKENDS)
async def services(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Services]:
    async with played_services(request.param, tmp_path_factory.mktemp("fast"), seed=11, commands=120) as services:
        yield services


async def run(services: Services, query: str, variables: dict[str, Any], *, fast: bool) -> str:
    HistoryExecutionContext.enabled = fast
    api.history.FROM_RECORDS = fast
    try:
        auditor = Principal(subject="auditor", roles=frozenset({"admin"}))
        context = Context(services=services, request=None, principal=auditor)
        result = await schema.execute(query, variable_values=variables, context_value=context)
    finally:
        HistoryExecutionContext.enabled = True
        api.history.FROM_RECORDS = True
    errors = [error.formatted for error in result.errors or ()]
    return json.dumps({"data": result.data, "errors": errors})


async def same(services: Services, query: str, variables: dict[str, Any]) -> str:
    fast = await run(services, query, variables, fast=True)
    plain = await run(services, query, variables, fast=False)
    assert fast == plain
    return fast


async def server_ids(services: Services) -> list[str]:
    page = json.loads(await run(services, "{ events(first: 500) { edges { node { streamId } } } }", {}, fast=False))
    return sorted({edge["node"]["streamId"] for edge in page["data"]["events"]["edges"]})


async def test_every_event_field_of_every_page_is_the_same_as_plain_execution(services: Services):
    after = None
    pages = 0
    while True:
        variables = {"first": 37, "after": after, "withData": pages % 2 == 0}
        page = json.loads(await same(services, SERVER + EVERY_EVENT_FIELD, variables))["data"]["events"]
        pages += 1
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert pages > 3


async def test_each_servers_history_and_each_type_filter_is_the_same_as_plain_execution(services: Services):
    for stream_id in await server_ids(services):
        await same(services, SERVER + EVERY_EVENT_FIELD, {"filter": {"streamId": stream_id}, "withData": True})
    for kind in ("ServerAdded", "ServerChanged", "ServersReordered", "ServerDeleted", "AllServersDeleted"):
        await same(services, SERVER + EVERY_EVENT_FIELD, {"filter": {"types": [kind]}, "withData": False})


async def test_aliases_and_repeated_fields_are_the_same_as_plain_execution(services: Services):
    output = json.loads(await same(services, ALIASED, {"filter": {"types": ["ServerChanged"]}}))
    assert output["data"]["page"]["edges"][0]["node"]["kind"] == "ServerChanged"


async def test_the_list_at_every_position_is_the_same_as_plain_execution(services: Services):
    ends = json.loads(await run(services, "{ events(first: 500) { edges { cursor } } }", {}, fast=False))
    cursors = [edge["cursor"] for edge in ends["data"]["events"]["edges"]]
    assert len(cursors) > 100
    for cursor in cursors:
        await same(services, SERVER + AS_OF_POSITION, {"p": cursor})
        await same(services, AS_OF_FEW, {"p": cursor})


async def test_the_list_at_a_time_and_errors_are_the_same_as_plain_execution(services: Services):
    for at, skip in (("2000-01-01T00:00:00Z", False), ("2999-01-01T00:00:00+02:00", True)):
        await same(services, AS_OF_TIME, {"at": at, "skip": skip})
    unknown = json.loads(await same(services, AS_OF_FEW, {"p": "999999999"}))
    assert unknown["errors"] and unknown["data"] is None
