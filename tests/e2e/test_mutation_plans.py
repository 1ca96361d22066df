"""Mutations answered from a compiled plan (api/fast_mutations.py), against a real `mailreg serve`
on PostgreSQL: the same bytes and headers as Strawberry's answers, over many selection shapes,
outcomes and languages; an idempotent retry recognised whichever path ran the first; the same
refusals; one log line, the metrics and the event's correlation id as before.

Which path answered is read from the server's own JSON log: a planned answer writes one line
standing for both the access line and the operation line; Strawberry writes the two. A document
seen for the first time is always Strawberry's to answer (its plan is not proven yet), so a
unique comment line (`fresh`) makes Strawberry answer any request."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e import documents as doc
from tests.e2e.eventlog import EventLog
from tests.e2e.hardening import eventually, json_lines
from tests.e2e.live import LiveServer, fresh_database
from tests.e2e.tokens import SIGNED_IN_NON_ADMIN
from tests.support import token

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

ADMIN = token("admin-user")
ALLOWED = "https://office.example.com"
Json = dict[str, Any]

BENCH = (
    "mutation($id: ID!, $name: String!) { changeMailServer(input: {id: $id, name: $name}) "
    "{ server { version } errors { code } } }"
)
ALIASED = (
    "mutation Renamed($input: ChangeMailServerInput!) { t: __typename renamed: changeMailServer(input: $input) "
    "{ kind: __typename s: server { key: id n: name at: updatedAt out: outgoing { p: port enc: encryption "
    "who: credentials __typename } inc: incoming { protocol tls: useTls apop: useApop } oauthProvider } "
    "errs: errors { f: field c: code m: message __typename } } }"
)
FRAGMENTS = (
    "fragment Out on OutgoingServer { host authMethod timeoutSeconds } "
    "fragment S on MailServer { code ... on MailServer { position outgoing { ...Out } } version createdAt } "
    "mutation ($input: ChangeMailServerInput!) { changeMailServer(input: $input) { "
    "... on ChangeMailServerPayload { server { ...S id @include(if: true) name @skip(if: true) } } "
    "errors { ... on UserError { code } message field } server { incoming { host port timeoutSeconds } } } }"
)
LITERAL = (
    'mutation ($id: ID!) { changeMailServer(input: {id: $id, outgoing: {timeoutSeconds: 60}, code: "first"}) '
    "{ errors { code message } server { code outgoing { timeoutSeconds } } } }"
)
ADD = (
    "mutation ($input: AddMailServerInput!) { addMailServer(input: $input) "
    "{ server { id code position } errors { field code message } } }"
)
# Not planned: Strawberry answers these every time.
UNPLANNED = {
    "a directive on a variable": (
        "mutation ($input: ChangeMailServerInput!, $full: Boolean!) { changeMailServer(input: $input) "
        "{ server { id name @include(if: $full) } errors { code } } }"
    ),
    "two mutations": (
        "mutation ($input: ChangeMailServerInput!) { a: changeMailServer(input: $input) { errors { code } } "
        "b: changeMailServer(input: $input) { errors { code } } }"
    ),
    "reorder": "mutation ($input: ReorderMailServersInput!) { reorderMailServers(input: $input) { errors { code } } }",
}


@dataclass
class Site:
    server: LiveServer
    http: httpx.AsyncClient
    log: EventLog
    ids: dict[str, str]

    async def send(
        self,
        document: str,
        variables: Json | None = None,
        *,
        fresh: bool = False,
        bearer: str | None = ADMIN,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        """POST the document (with `fresh`, made new by a unique comment line)."""
        query = f"{document}\n# {uuid.uuid4().hex}" if fresh else document
        sent = {**({"authorization": f"Bearer {bearer}"} if bearer else {}), **(headers or {})}
        body: Json = {"query": query, "variables": variables or {}}
        return await self.http.post("/graphql", json=body, headers=sent)

    async def path(self, response: httpx.Response) -> str:
        """'plan' or 'strawberry', from the server's log lines under the response's request id."""
        request_id = response.headers["x-request-id"]

        def lines() -> list[Json]:
            return [e for e in json_lines(self.server.output) if e.get("request_id") == request_id]

        def complete() -> bool:
            found = lines()
            operation = any("outcome" in e for e in found)
            return any("outcome" in e and "status" in e for e in found) or (operation and len(found) >= 2)

        await eventually(lambda: _async(complete()))
        found = lines()
        (operation,) = [e for e in found if "outcome" in e]
        if "status" in operation:
            assert len(found) == 1, found
            return "plan"
        (access,) = [e for e in found if "outcome" not in e]
        assert access["status"] == response.status_code, found
        return "strawberry"

    async def metrics(self) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        text = (await self.http.get("/metrics")).text
        return {
            (s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text)
            for s in family.samples
        }


async def _async(value: bool) -> bool:
    return value


@pytest.fixture(scope="module")
async def site(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Site]:
    async with fresh_database() as url:
        server = LiveServer(
            database_url=url,
            data_dir=tmp_path_factory.mktemp("plans"),
            extra_env={"MAILREG_LOG_FORMAT": "json", "MAILREG_CORS_ORIGINS": ALLOWED},
        )
        server.start(timeout=45)
        log = EventLog(url)
        try:
            async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
                site = Site(server, http, log, {})
                for code, input in {
                    "first": doc.manual("first", name="最初のサーバー"),
                    "second": doc.google("second"),
                    "third": doc.imap_starttls_cram("third"),
                }.items():
                    answer = await site.send(doc.ADD, {"input": input}, fresh=True)
                    site.ids[code] = answer.json()["data"]["addMailServer"]["server"]["id"]
                # Each document's plan is proven for commands that succeed by running one through Strawberry.
                await site.send(ADD, {"input": doc.manual("fourth")})
                await site.send(doc.ADD, {"input": doc.manual("fifth")})
                for document, variables in _shapes(site.ids):
                    await site.send(document, variables)
                yield site
        finally:
            await log.dispose()
            server.stop()


def _shape(response: httpx.Response) -> list[tuple[bytes, bytes]]:
    """The headers, in order, the per-request and per-second ones blanked."""
    return [(k, b"<varies>" if k in (b"x-request-id", b"date") else v) for k, v in response.headers.raw]


async def _same_three_ways(site: Site, document: str, variables: Json, **kwargs: Any) -> bytes:
    """Send a request that changes nothing three ways: fresh (Strawberry), and the same document twice, the
    second of which the plan answers; all three answers are equal. The planned answer's bytes."""
    strawberry = await site.send(document, variables, fresh=True, **kwargs)
    await site.send(document, variables, **kwargs)  # proves the plan, if no earlier request did
    planned = await site.send(document, variables, **kwargs)
    assert await site.path(strawberry) == "strawberry"
    assert await site.path(planned) == "plan", document
    assert planned.status_code == strawberry.status_code == 200
    assert planned.content == strawberry.content, (document, variables)
    assert _shape(planned) == _shape(strawberry)
    return planned.content


def _shapes(ids: dict[str, str]) -> list[tuple[str, Json]]:
    """(document, variables) pairs that leave every server as it is: their answers do not depend on the path."""
    first, second, third = ids["first"], ids["second"], ids["third"]
    return [
        (BENCH, {"id": first, "name": "最初のサーバー"}),
        (BENCH, {"id": second, "name": "Google Workspace"}),
        (doc.CHANGE, {"input": {"id": first}}),
        (doc.CHANGE, {"input": {"id": second, "oauthProvider": "GOOGLE"}}),
        (doc.CHANGE, {"input": {"id": third, "outgoing": {"credentials": "SENDING_ACCOUNT"}}}),
        (ALIASED, {"input": {"id": third}}),
        (ALIASED, {"input": {"id": second, "incoming": {"protocol": "IMAP4"}}}),
        (FRAGMENTS, {"input": {"id": first, "code": "first"}}),
        (FRAGMENTS, {"input": {"id": third, "name": "Head office IMAP"}}),
        (LITERAL, {"id": first}),
    ]


async def test_planned_answers_are_strawberrys_bytes_and_headers_for_every_shape(site: Site):
    async with site.log.unchanged():
        for document, variables in _shapes(site.ids):
            await _same_three_ways(site, document, variables)
        await _same_three_ways(site, ALIASED, {"input": {"id": site.ids["first"]}}, headers={"origin": ALLOWED})
        await _same_three_ways(
            site, doc.CHANGE, {"input": {"id": site.ids["second"]}}, headers={"accept": "application/json"}
        )
        await _same_three_ways(
            site, BENCH, {"id": site.ids["third"], "name": "Head office IMAP"}, headers={"origin": "https://x.example"}
        )


REJECTIONS: dict[str, tuple[str, Any]] = {
    # name -> (document, variables given the ids) of a command the domain refuses
    "version conflict": (doc.CHANGE, lambda ids: {"input": {"id": ids["first"], "expectedVersion": 999}}),
    "duplicate code": (doc.CHANGE, lambda ids: {"input": {"id": ids["first"], "code": " second "}}),
    "bad input": (ALIASED, lambda ids: {"input": {"id": ids["third"], "outgoing": {"port": 0}, "name": " "}}),
    "not found": (BENCH, lambda ids: {"id": str(uuid.uuid4()), "name": "Nobody"}),
    "duplicate code on add": (ADD, lambda ids: {"input": doc.manual("first")}),
    "bad input on add": (ADD, lambda ids: {"input": doc.manual("x" * 300, outgoing={"port": 70000})}),
}


@pytest.mark.parametrize("language", ["en", "ja"])
@pytest.mark.parametrize("case", REJECTIONS)
async def test_rejected_commands_give_the_same_errors_on_both_paths(site: Site, case: str, language: str):
    document, variables = REJECTIONS[case]
    before = await site.metrics()
    async with site.log.unchanged():
        body = await _same_three_ways(site, document, variables(site.ids), headers={"accept-language": language})
    data = httpx.Response(200, content=body).json()["data"]
    (payload,) = [v for k, v in data.items() if k in ("changeMailServer", "renamed", "addMailServer")]
    errors = payload.get("errors", payload.get("errs"))
    codes = [error.get("code", error.get("c")) for error in errors]
    assert codes and all(codes), payload
    messages = [m for e in errors if (m := e.get("message", e.get("m"))) is not None]
    if language == "ja":
        assert all(any(ord(c) > 0x3000 for c in m) for m in messages), messages
    after = await site.metrics()
    # Three answers: a command run by the plan and then by Strawberry (the plan not yet proven for errors) counts once.
    counted = sum(after[key] - before.get(key, 0) for key in after if key[0] == "mailreg_user_errors_total")
    assert counted == 3 * len(codes), counted


async def test_graphql_refusals_stay_strawberrys(site: Site):
    ids = site.ids
    refusals: list[tuple[str, Json, str | None, str | None]] = [
        (BENCH, {"id": ids["first"], "name": "x"}, SIGNED_IN_NON_ADMIN, "FORBIDDEN"),
        (BENCH, {"id": ids["first"], "name": "x"}, None, "UNAUTHENTICATED"),
        (BENCH, {"id": ids["first"], "name": 5}, ADMIN, None),
        (doc.CHANGE, {"input": {"id": ids["first"], "outgoing": {"port": "abc"}}}, ADMIN, None),
        (LITERAL, {}, ADMIN, None),
    ]
    async with site.log.unchanged():
        await _same_three_ways(site, BENCH, {"id": ids["first"], "name": "最初のサーバー"})
        for document, variables, bearer, code in refusals:
            first = await site.send(document, variables, bearer=bearer, fresh=True)
            again = await site.send(document, variables, bearer=bearer)
            assert await site.path(again) == "strawberry"
            assert (again.status_code, again.content) == (first.status_code, first.content)
            errors = again.json()["errors"]
            assert errors, again.text
            if code is not None:
                assert [e.get("extensions", {}).get("code") for e in errors] == [code], again.text
        get = await site.http.get("/graphql", params={"query": BENCH}, headers={"authorization": f"Bearer {ADMIN}"})
        assert get.status_code == 405


@pytest.mark.parametrize("name", UNPLANNED)
async def test_documents_without_a_plan_are_answered_by_strawberry(site: Site, name: str):
    variables: Json = {"input": {"id": site.ids["first"]}, "full": True}
    if name == "reorder":
        variables = {"input": {"ids": [site.ids["first"], site.ids["second"], site.ids["third"]]}}
    for _ in range(3):
        response = await site.send(UNPLANNED[name], variables)
        assert response.status_code == 200 and "errors" not in response.json(), response.text
        assert await site.path(response) == "strawberry"


RETRIED = {
    "changeMailServer": doc.CHANGE,
    "addMailServer": ADD,
    "addMailServer with every field": doc.ADD,
    "addMailServer of an OAuth server": doc.ADD,
}


@pytest.mark.parametrize("case", RETRIED)
async def test_an_idempotent_retry_is_recognised_whichever_path_ran_the_first(site: Site, case: str):
    document = RETRIED[case]
    mutation = case.split()[0]

    def input(key: str, n: int) -> Json:
        if mutation == "changeMailServer":
            return {"id": site.ids["third"], "name": f"Retried {key} {n}", "idempotencyKey": key}
        if "OAuth" in case:
            return {**doc.google(f"g-{key[:12]}"), "name": f"Retried {n}", "idempotencyKey": key}
        return {**doc.imap_starttls_cram(f"r-{key[:12]}"), "name": f"Retried {n}", "idempotencyKey": key}

    for first_fresh in (False, True):
        key = uuid.uuid4().hex
        async with site.log.appends(1):
            first = await site.send(document, {"input": input(key, 1)}, fresh=first_fresh)
        async with site.log.unchanged():
            again = await site.send(document, {"input": input(key, 1)}, fresh=not first_fresh)
            other = await site.send(document, {"input": input(key, 2)}, fresh=first_fresh)
        assert [await site.path(r) for r in (first, again)] == (
            ["strawberry", "plan"] if first_fresh else ["plan", "strawberry"]
        )
        assert again.content == first.content
        assert first.json()["data"][mutation]["errors"] == []
        assert [e["code"] for e in other.json()["data"][mutation]["errors"]] == ["IDEMPOTENCY_KEY_REUSED"]


async def test_a_planned_answer_logs_one_line_counts_its_metrics_and_records_the_correlation_id(site: Site):
    await _same_three_ways(site, BENCH, {"id": site.ids["second"], "name": "Google Workspace"})
    start = len(site.server.output)
    given = f"corr-{uuid.uuid4().hex}"
    before = await site.metrics()
    async with site.log.appends(1) as appended:
        response = await site.send(
            BENCH, {"id": site.ids["second"], "name": f"Google {given}"}, headers={"x-request-id": given}
        )
    after = await site.metrics()
    assert response.json()["data"]["changeMailServer"]["errors"] == []
    assert response.headers["x-request-id"] == given
    assert await site.path(response) == "plan"
    (line,) = [e for e in json_lines(site.server.output, start) if e.get("request_id") == given]
    assert line["message"] == "graphql changeMailServer ok"
    assert {k: line[k] for k in ("actor", "operation", "outcome", "method", "path", "status")} == {
        "actor": "admin-user",
        "operation": "changeMailServer",
        "outcome": "ok",
        "method": "POST",
        "path": "/graphql",
        "status": 200,
    }
    assert line["duration_ms"] >= 0
    (event,) = appended
    assert (event.type, event.actor, event.correlation_id) == ("ServerChanged", "admin-user", given)

    def moved(name: str, **labels: str) -> float:
        key = (name, tuple(sorted(labels.items())))
        return after.get(key, 0) - before.get(key, 0)

    assert moved("mailreg_graphql_requests_total", operation="changeMailServer", outcome="ok") == 1
    assert moved("mailreg_graphql_request_duration_seconds_count", operation="changeMailServer") == 1
    assert moved("mailreg_http_responses_total", path="/graphql", status="200") == 1
    assert moved("mailreg_events_appended_total", type="ServerChanged") == 1


async def test_a_database_failure_under_a_plan_is_strawberrys_masked_error_and_the_command_runs_once(site: Site):
    variables = {"id": site.ids["third"], "name": "Refused by the database"}
    # A trigger that refuses this one rename; the sequence (not rolled back with the refusal) counts attempts.
    async with site.log.engine.begin() as conn:
        await conn.exec_driver_sql("CREATE SEQUENCE plan_attempts")
        await conn.exec_driver_sql(
            "CREATE FUNCTION plan_refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "IF NEW.data::text LIKE '%Refused by the database%' THEN "
            "PERFORM nextval('plan_attempts'); RAISE EXCEPTION 'refused for the test'; END IF; "
            "RETURN NEW; END $$"
        )
        await conn.exec_driver_sql(
            "CREATE TRIGGER plan_refuse BEFORE INSERT ON events FOR EACH ROW EXECUTE FUNCTION plan_refuse()"
        )
    try:
        fresh = await site.send(BENCH, variables, fresh=True)  # Strawberry's own answer to the failure
        async with site.log.unchanged():
            planned = await site.send(BENCH, variables)
        assert planned.status_code == fresh.status_code == 200
        # The same masked error, each naming its own request id.
        assert [r.text.replace(r.headers["x-request-id"], "<id>") for r in (planned, fresh)] == [
            fresh.text.replace(fresh.headers["x-request-id"], "<id>")
        ] * 2
        assert planned.json()["data"] is None
        assert "refused for the test" not in planned.text  # masked, as any unexpected failure is
        async with site.log.engine.connect() as conn:
            attempts = (await conn.exec_driver_sql("SELECT last_value FROM plan_attempts")).scalar_one()
        assert attempts == 2  # one for each request: the planned one was not run a second time
        # The failure logged for the planned request is the one the plan's own attempt met.
        (logged,) = [
            e
            for e in json_lines(site.server.output)
            if e.get("request_id") == planned.headers["x-request-id"] and e.get("level") == "error"
        ]
        assert "api/fast_mutations.py" in logged["error"] and "refused for the test" in logged["error"]
    finally:
        async with site.log.engine.begin() as conn:
            await conn.exec_driver_sql("DROP TRIGGER plan_refuse ON events")
            await conn.exec_driver_sql("DROP FUNCTION plan_refuse()")
            await conn.exec_driver_sql("DROP SEQUENCE plan_attempts")
