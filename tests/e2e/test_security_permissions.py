"""Every root field of the schema, read from the schema itself, refuses callers
without the right token and appends nothing: a new field that forgets its
permission check fails here. Queries and mutations in-process on PostgreSQL,
subscriptions over a real graphql-transport-ws connection."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import graphql
import pytest
import websockets
from graphql import (
    GraphQLField,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLOutputType,
    Undefined,
    get_named_type,
    is_enum_type,
    is_input_object_type,
    is_leaf_type,
    is_list_type,
    is_non_null_type,
)

from api.schema import schema
from tests.e2e.eventlog import EventLog
from tests.e2e.hardening import (
    ADMIN,
    BAD_TOKENS,
    NON_ADMIN_TOKENS,
    Fleet,
    Harness,
    Socket,
    fleet,  # noqa: F401 - fixture
    fleet_warmup,  # noqa: F401 - fixture
    in_process,
    pg_database,
)

pytestmark = [pytest.mark.postgres, pytest.mark.usefixtures("fleet_warmup")]

GRAPHQL = schema._schema
SIGNED_IN_ONLY = {"mailServerChoices", "mailServerChoicesChanged"}
"""Root fields any valid token may use; every other root field needs the admin role."""

SCALAR_SAMPLES = {"Int": "1", "Float": "1.5", "Boolean": "false", "DateTime": '"2024-01-01T00:00:00+00:00"'}

CALLERS: dict[str, dict[str, str | None]] = {
    "no token": {"missing": None, "empty bearer": ""},
    "bad token": dict(BAD_TOKENS),
    "non-admin token": dict(NON_ADMIN_TOKENS),
}


def literal(type_: GraphQLInputType) -> str:
    """A GraphQL literal of the type, with only the required input fields filled."""
    if is_non_null_type(type_):
        return literal(type_.of_type)  # type: ignore[union-attr]
    if is_list_type(type_):
        return f"[{literal(type_.of_type)}]"  # type: ignore[union-attr]
    if is_input_object_type(type_):
        assert isinstance(type_, GraphQLInputObjectType)
        required = [
            f"{name}: {literal(f.type)}"
            for name, f in type_.fields.items()
            if is_non_null_type(f.type) and f.default_value is Undefined
        ]
        return "{" + ", ".join(required) + "}"
    if is_enum_type(type_):
        return next(iter(type_.values))  # type: ignore[union-attr]
    return SCALAR_SAMPLES.get(get_named_type(type_).name, json.dumps("x"))


def selection(type_: GraphQLOutputType) -> str:
    return "" if is_leaf_type(get_named_type(type_)) else " { __typename }"


def document(operation: str, name: str, field: GraphQLField) -> str:
    """A minimal valid document that selects the one root field, its required arguments filled by type."""
    required = [
        f"{arg}: {literal(a.type)}"
        for arg, a in field.args.items()
        if is_non_null_type(a.type) and a.default_value is Undefined
    ]
    arguments = f"({', '.join(required)})" if required else ""
    return f"{operation} {{ {name}{arguments}{selection(field.type)} }}"


def root_fields(operation: str) -> dict[str, str]:
    root = {"query": GRAPHQL.query_type, "mutation": GRAPHQL.mutation_type, "subscription": GRAPHQL.subscription_type}[
        operation
    ]
    assert root is not None
    return {name: document(operation, name, field) for name, field in root.fields.items()}


def expected(field: str, caller: str) -> str | None:
    """The top-level error code the caller must get, or None when it may use the field."""
    if caller != "non-admin token":
        return "UNAUTHENTICATED"
    return None if field in SIGNED_IN_ONLY else "FORBIDDEN"


def cases(operation: str) -> list[Any]:
    return [
        pytest.param(field, caller, id=f"{field}-{caller}") for field in root_fields(operation) for caller in CALLERS
    ]


@pytest.mark.parametrize("operation", ["query", "mutation", "subscription"])
def test_every_generated_document_is_valid_so_a_refusal_comes_from_the_permission_check(operation: str):
    fields = root_fields(operation)
    assert fields, operation
    for name, query in fields.items():
        assert graphql.validate(GRAPHQL, graphql.parse(query)) == [], (name, query)


@pytest.fixture(scope="module")
async def site(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Harness]:
    """With one live server, so that a delete that slipped through would append an event."""
    async with pg_database() as url, in_process(url, tmp_path_factory.mktemp("walk")) as harness:
        body = await harness.gql(
            'mutation { addMailServer(input: {code: "seed", name: "Seed", outgoing: {host: "smtp.example.com", '
            'port: 25}, incoming: {protocol: POP3, host: "pop.example.com", port: 110}}) { errors { code } } }'
        )
        assert body["data"]["addMailServer"]["errors"] == [], body
        yield harness


async def refuses_or_serves(site: Harness, operation: str, field: str, caller: str) -> None:
    query = root_fields(operation)[field]
    for kind, bearer in CALLERS[caller].items():
        async with site.log.unchanged():
            response = await site.post(
                {"query": query},
                bearer=None,
                headers={"Authorization": f"Bearer {bearer}"} if bearer is not None else {},
            )
        assert response.status_code == 200, response.text
        body = response.json()
        code = expected(field, caller)
        if code is None:
            assert "errors" not in body and body["data"][field] is not None, (kind, body)
            continue
        assert [(e["extensions"]["code"], e["path"]) for e in body["errors"]] == [(code, [field])], (kind, body)
        assert not (body["data"] or {}).get(field), (kind, body)
        assert "Traceback" not in response.text


@pytest.mark.parametrize(("field", "caller"), cases("query"))
async def test_every_query_field_refuses_callers_without_the_right_token(site: Harness, field: str, caller: str):
    await refuses_or_serves(site, "query", field, caller)


@pytest.mark.parametrize(("field", "caller"), cases("mutation"))
async def test_every_mutation_refuses_callers_without_the_right_token(site: Harness, field: str, caller: str):
    await refuses_or_serves(site, "mutation", field, caller)


@pytest.mark.slow
@pytest.mark.parametrize(("field", "caller"), cases("subscription"))
async def test_every_subscription_refuses_callers_without_the_right_token(
    fleet: Fleet,  # noqa: F811 - the imported fixture
    field: str,
    caller: str,
):
    server = fleet.shared
    log = EventLog(server.database_url)
    query = root_fields("subscription")[field]
    try:
        for kind, bearer in CALLERS[caller].items():
            async with log.unchanged(), Socket.connect(server.ws_url) as socket:
                await socket.init(bearer)
                if caller != "non-admin token":
                    with contextlib.suppress(websockets.ConnectionClosed):  # it may already have closed
                        await socket.subscribe("1", query)
                    closed = await socket.closed()
                    assert closed.code == 4403, (kind, closed)
                    assert not any(m["type"] in ("connection_ack", "next") for m in closed.messages), (kind, closed)
                    continue
                assert (await socket.receive())["type"] == "connection_ack"
                await socket.subscribe("1", query)
                message = await socket.receive()
                if expected(field, caller) is None:
                    assert message["type"] == "next" and "errors" not in message["payload"], (kind, message)
                else:
                    assert message["type"] == "error", (kind, message)
                    assert [e["extensions"]["code"] for e in message["payload"]] == ["FORBIDDEN"], (kind, message)
    finally:
        await log.dispose()


@pytest.mark.slow
async def test_queries_and_mutations_over_the_websocket_refuse_a_non_admin_token_too(fleet: Fleet):  # noqa: F811
    log = EventLog(fleet.shared.database_url)
    fields = {**root_fields("query"), **root_fields("mutation")}
    try:
        async with log.unchanged(), Socket.signed_in(fleet.shared.ws_url, NON_ADMIN_TOKENS["no roles"]) as socket:
            for field, query in fields.items():
                await socket.subscribe(field, query)
                message = await socket.receive()
                assert (message["id"], message["type"]) in ((field, "next"), (field, "error")), message
                if message["type"] == "next":
                    assert await socket.receive() == {"id": field, "type": "complete"}
                errors = message["payload"] if message["type"] == "error" else message["payload"].get("errors", [])
                codes = [e["extensions"]["code"] for e in errors]
                assert codes == ([] if field in SIGNED_IN_ONLY else ["FORBIDDEN"]), message
    finally:
        await log.dispose()


@pytest.mark.slow
async def test_an_admin_token_may_subscribe_to_every_subscription(fleet: Fleet):  # noqa: F811
    async with Socket.signed_in(fleet.shared.ws_url, ADMIN) as socket:
        for number, query in enumerate(root_fields("subscription").values()):
            await socket.subscribe(str(number), query)
            await socket.send({"id": str(number), "type": "complete"})
        messages = []
        with pytest.raises(TimeoutError):
            while True:
                messages.append(await socket.receive(within=1))
        assert not any(m["type"] == "error" for m in messages), messages


@pytest.mark.parametrize("field", list(root_fields("subscription")))
async def test_a_subscription_over_plain_http_is_refused_as_a_client_error(site: Harness, field: str):
    query = root_fields("subscription")[field]
    for bearer in (None, NON_ADMIN_TOKENS["no roles"], ADMIN):
        async with site.log.unchanged():
            response = await site.post({"query": query}, bearer=bearer)
        codes = (
            [e.get("extensions", {}).get("code") for e in response.json().get("errors", [])]
            if response.headers.get("content-type", "").startswith("application/json")
            else []
        )
        assert response.status_code in (400, 405) or (codes and set(codes) <= {"UNAUTHENTICATED", "FORBIDDEN"}), (
            bearer,
            response.status_code,
            response.text,
        )
        assert "INTERNAL_SERVER_ERROR" not in response.text
