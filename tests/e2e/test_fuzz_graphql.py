"""Schemathesis fuzzes every query and mutation of a real `mailreg serve`, as an
admin, with valid and invalid documents: no 5xx, no masked internal error and
no internal detail in any answer, and the server is healthy afterwards."""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.specs.graphql.schemas import GraphQLSchema

from tests.e2e.live import LiveServer
from tests.e2e.private_pg import START_WITHIN, announce
from tests.support import ROOT, create_pg_database, drop_pg_database, token

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

EXAMPLES = int(os.environ.get("MAILREG_FUZZ_EXAMPLES", "12"))
HEADERS = {"Authorization": f"Bearer {token('fuzzer')}"}
LEAKS = ("Traceback", "sqlalchemy", "asyncpg", "Internal Server Error", "INTERNAL_SERVER_ERROR")
# The committed SDL names the operations at collection time; the cases are
# generated from the running server's own introspection.
OPERATIONS = [r.ok().label for r in schemathesis.graphql.from_path(ROOT / "schema.graphql").get_all_operations()]
sent: dict[str, int] = {}


@pytest.fixture(scope="module")
async def fuzz_server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[LiveServer]:
    url = await create_pg_database()
    server = LiveServer(database_url=url, data_dir=Path(tmp_path_factory.mktemp("fuzz")))
    try:
        server.cli("migrate")
        server.start(START_WITHIN)
        yield server
    finally:
        server.stop()
        await drop_pg_database(url)


@pytest.fixture(scope="module")
def live_schema(fuzz_server: LiveServer, request: pytest.FixtureRequest) -> Iterator[GraphQLSchema]:
    """The schema by introspection; afterwards the server must still be healthy."""
    started = time.monotonic()
    yield schemathesis.graphql.from_url(f"{fuzz_server.url}/graphql", headers=HEADERS, timeout=10)
    health = [httpx.get(f"{fuzz_server.url}{path}", timeout=5).status_code for path in ("/healthz", "/readyz")]
    announce(
        request,
        f"fuzz: {sum(sent.values())} requests over {len(sent)} operations in "
        f"{time.monotonic() - started:.1f}s; healthz/readyz {health}",
    )
    assert health == [200, 200]


@pytest.mark.parametrize("label", OPERATIONS)
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=lambda m: m.value)
def test_no_generated_request_breaks_the_server(
    live_schema: GraphQLSchema, label: str, mode: GenerationMode, fuzz_server: LiveServer
) -> None:
    root, field = label.split(".")
    operation = live_schema[root][field]

    @given(case=operation.as_strategy(mode))
    @settings(
        max_examples=EXAMPLES, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck)
    )
    def answers_cleanly(case: schemathesis.Case) -> None:
        response = case.call(base_url=f"{fuzz_server.url}/graphql", headers=HEADERS, timeout=10)
        sent[label] = sent.get(label, 0) + 1
        assert response.status_code < 500, (case.body, response.text)
        for leak in LEAKS:
            assert leak not in response.text, (case.body, response.text)

    answers_cleanly()
