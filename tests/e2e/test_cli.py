"""The `mailreg` command line: serve's start-up checks, the first-run secret
(across a restart), token, and the committed schema."""

from __future__ import annotations

import stat
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import jwt
import pytest
from strawberry.extensions import SchemaExtension

from tests.e2e import documents as doc
from tests.e2e.api_client import GraphQLClient
from tests.e2e.conftest import sqlite_url
from tests.e2e.eventlog import EventLog
from tests.e2e.live import LiveServer
from tests.support import ROOT, create_pg_database, drop_pg_database

pytestmark = pytest.mark.slow

JWT = r"^(eyJ[\w-]+\.[\w-]+\.[\w-]+)$"


def test_the_committed_schema_equals_the_exported_one():
    exported = subprocess.run(
        [sys.executable, "-m", "api", "export-schema"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    assert (ROOT / "schema.graphql").read_text() == exported


def test_every_schema_extension_is_built_fresh_for_each_request():
    from api.schema import schema

    assert [e for e in schema.extensions if isinstance(e, SchemaExtension)] == []


@pytest.fixture
async def unmigrated_pg() -> AsyncIterator[str]:
    url = await create_pg_database()
    try:
        yield url
    finally:
        await drop_pg_database(url)


@pytest.mark.postgres
def test_serve_refuses_an_unmigrated_postgresql_database_and_names_mailreg_migrate(unmigrated_pg: str, tmp_path: Path):
    server = LiveServer(database_url=unmigrated_pg, data_dir=tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", "api", "serve"],
        env=server.env(),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode != 0
    assert "mailreg migrate" in result.stdout + result.stderr
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{server.url}/healthz", timeout=1)


async def test_first_serve_on_sqlite_without_a_secret_prints_a_working_admin_token_and_keeps_the_secret(
    tmp_path: Path,
):
    # An empty MAILREG_DATABASE_URL means the embedded default: SQLite in the data folder.
    server = LiveServer(database_url="", data_dir=tmp_path / "data", extra_env={"MAILREG_JWT_SECRET": ""})
    server.start()
    log = EventLog(sqlite_url(tmp_path / "data"))
    try:
        printed = server.wait_for_output(JWT).group(1)
        secret_file = tmp_path / "data" / "jwt-secret"
        assert stat.S_IMODE(secret_file.stat().st_mode) & 0o077 == 0
        assert jwt.decode(printed, secret_file.read_text().strip(), algorithms=["HS256"])["roles"] == ["admin"]
        issued = server.cli("token", "--sub", "x", "--role", "admin").stdout.strip()
        keyed = {**doc.manual("first-run"), "idempotencyKey": "first-run-key"}
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
            api = GraphQLClient(http, printed)
            async with log.appends(1) as new:
                first = await api.add(keyed)
            assert new[0].actor == "admin"

            server.stop()
            server.output.clear()
            server.start()
            async with log.unchanged():
                assert await api.add(keyed) == first
            async with log.appends(1) as new:
                await api.add(doc.manual("by-x"), token=issued)
            assert new[0].actor == "x"
            assert [c["code"] for c in await api.choices()] == ["first-run", "by-x"]
        assert "admin token" not in "".join(server.output)
    finally:
        server.stop()
        await log.dispose()
