"""`mailreg export`, `import` and `check` as real processes: moving a registry from
the embedded SQLite store to PostgreSQL, refusals that change nothing, and a
check that notices tampering."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from events.database import create_engine
from events.operations.portability import import_log
from tests.e2e import documents as doc
from tests.e2e.api_client import GraphQLClient
from tests.e2e.conftest import migrated, sqlite_url
from tests.e2e.live import LiveServer
from tests.support import ServerProcess, create_pg_database, drop_pg_database, token

pytestmark = pytest.mark.slow

EVENTS = """
query Events($after: String) {
  events(first: 500, after: $after) {
    edges { cursor node { position streamId streamVersion type occurredAt actor correlationId data } }
  }
}"""

TABLES = ("events", "event_links", "servers", "projection_state", "idempotency_keys")


@dataclass
class History:
    """A registry built through the API on the embedded SQLite default, and its export."""

    source: LiveServer
    database_url: str
    exported: Path
    servers: dict[str, Any]
    events: list[dict[str, Any]]
    ids: dict[str, str]


async def all_events(api: GraphQLClient, after: str | None = None) -> list[dict[str, Any]]:
    data = await api.gql(EVENTS, {"after": after})
    return [edge["node"] for edge in data["events"]["edges"]]


async def tables(database_url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, for before/after comparisons."""
    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            return {
                name: [tuple(row) for row in await conn.execute(sa.text(f"SELECT * FROM {name} ORDER BY 1, 2"))]
                for name in TABLES
            }
    finally:
        await engine.dispose()


async def execute(database_url: str, statement: str, **parameters: Any) -> None:
    engine = create_engine(database_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(sa.text(statement), parameters)
    finally:
        await engine.dispose()


def import_from_stdin(target: ServerProcess, lines: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "api", "import"],
        input=lines,
        env=target.env(),
        cwd=target.data_dir,
        capture_output=True,
        text=True,
        timeout=120,
    )


async def load(database_url: str, exported: Path) -> None:
    """Migrate and import in-process, for tests about what comes after."""
    await migrated(database_url)
    engine = create_engine(database_url)
    try:
        with exported.open("rb") as source:
            await import_log(engine, source, upgrade=False)
    finally:
        await engine.dispose()


def parsed(export: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in export.splitlines()]


@pytest.fixture(scope="module")
async def history(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[History]:
    folder = tmp_path_factory.mktemp("embedded")
    # An empty MAILREG_DATABASE_URL means the default: the SQLite file in the data folder.
    source = LiveServer(database_url="", data_dir=folder).start()
    try:
        async with httpx.AsyncClient(base_url=source.url, timeout=10) as http:
            api = GraphQLClient(http)
            alice, bob = token("alice"), token("bob")
            tokyo = (await api.add(doc.manual("tokyo"), token=alice, headers={"X-Request-ID": "add-1"}))["server"]
            gmail = (await api.add(doc.google("gmail"), token=alice))["server"]
            hq = (await api.add(doc.imap_starttls_cram("hq"), token=bob, headers={"X-Request-ID": "add-3"}))["server"]
            await api.change({"id": tokyo["id"], "name": "Tokyo office", "code": "tokyo-1"}, token=bob)
            await api.reorder({"ids": [hq["id"], tokyo["id"], gmail["id"]]}, token=alice)
            await api.delete({"id": gmail["id"]}, token=bob, headers={"X-Request-ID": "delete-gmail"})
            servers, events = await api.servers(), await all_events(api)
        exported = folder / "registry.jsonl"
        source.cli("export", "--output", str(exported))
        yield History(
            source=source,
            database_url=sqlite_url(folder),
            exported=exported,
            servers=servers,
            events=events,
            ids={"tokyo": tokyo["id"], "gmail": gmail["id"], "hq": hq["id"]},
        )
    finally:
        source.stop()


@pytest.mark.postgres
async def test_a_registry_moves_from_the_embedded_sqlite_store_to_postgresql(history: History, tmp_path: Path) -> None:
    lines = history.exported.read_text().splitlines()
    assert [json.loads(line)["type"] for line in lines] == [
        "ServerAdded",
        "ServerAdded",
        "ServerAdded",
        "ServerChanged",
        "ServersReordered",
        "ServerDeleted",
    ]
    assert [s["id"] for s in history.servers["items"]] == [history.ids["hq"], history.ids["tokyo"]]
    assert history.source.cli("check").stdout == "consistent: 6 events, 4 streams, 2 servers\n"
    url = await create_pg_database()
    target = LiveServer(database_url=url, data_dir=tmp_path)
    try:
        target.cli("migrate")
        result = import_from_stdin(target, history.exported.read_text())
        last = max(int(event["position"]) for event in history.events)
        assert (result.returncode, result.stdout) == (
            0,
            f"mailreg: imported 6 events in 4 streams, 2 servers (list version 5), last position {last}\n",
        ), result.stderr
        assert target.cli("check").stdout == "consistent: 6 events, 4 streams, 2 servers\n"
        assert parsed(target.cli("export").stdout) == parsed(history.exported.read_text())

        target.start()
        async with httpx.AsyncClient(base_url=target.url, timeout=10) as http:
            api = GraphQLClient(http)
            assert await api.servers() == history.servers
            assert await all_events(api) == history.events

            await api.add(doc.manual("osaka"), token=token("carol"))
            (new,) = await all_events(api, after=str(last))
            assert int(new["position"]) > last
            assert (new["type"], new["actor"], new["streamVersion"]) == ("ServerAdded", "carol", 1)
            listed = await api.servers()
            assert [s["code"] for s in listed["items"]] == ["hq", "tokyo-1", "osaka"]
            assert listed["version"] == history.servers["version"] + 1
        assert target.cli("check").stdout == "consistent: 7 events, 5 streams, 3 servers\n"
    finally:
        target.stop()
        await drop_pg_database(url)


async def test_import_refuses_a_database_that_already_has_events_and_changes_nothing(history: History) -> None:
    before = await tables(history.database_url)
    result = import_from_stdin(history.source, history.exported.read_text())
    assert result.returncode == 1
    assert "already holds 6 events" in result.stderr
    assert "import only into an empty database" in result.stderr
    assert await tables(history.database_url) == before


async def test_check_reports_a_tampered_read_model_until_rebuild_projections_fixes_it(
    history: History, tmp_path: Path
) -> None:
    target = ServerProcess(database_url=sqlite_url(tmp_path), data_dir=tmp_path)
    await load(target.database_url, history.exported)
    await execute(target.database_url, "UPDATE servers SET name = 'x' WHERE code = 'hq'")
    result = target.cli("check", check=False)
    assert result.returncode == 1
    assert result.stdout.startswith("inconsistent: 1 problem in 6 events, 4 streams, 2 servers\n")
    assert f"read model: server {history.ids['hq']}: name is 'x', a rebuild gives 'Head office IMAP'" in result.stdout
    target.cli("rebuild-projections")
    assert target.cli("check").stdout == "consistent: 6 events, 4 streams, 2 servers\n"


async def test_check_reports_a_gap_in_a_streams_versions(history: History, tmp_path: Path) -> None:
    target = ServerProcess(database_url=sqlite_url(tmp_path), data_dir=tmp_path)
    await load(target.database_url, history.exported)
    tokyo = history.ids["tokyo"]
    await execute(
        target.database_url,
        "UPDATE events SET stream_version = 3 WHERE stream_id = :id AND stream_version = 2",
        id=tokyo,
    )
    result = target.cli("check", check=False)
    assert result.returncode == 1
    assert f"stream {tokyo}: version 3 after 1 (version 2 missing)" in result.stdout
    # The rebuilt server's version follows the log, so the read model now differs too.
    assert f"read model: server {tokyo}: version is 2, a rebuild gives 3" in result.stdout


async def test_check_reports_a_payload_it_cannot_read(history: History, tmp_path: Path) -> None:
    target = ServerProcess(database_url=sqlite_url(tmp_path), data_dir=tmp_path)
    await load(target.database_url, history.exported)
    await execute(target.database_url, "UPDATE events SET schema_version = 9 WHERE position = 1")
    result = target.cli("check", check=False)
    assert result.returncode == 1
    assert "position 1: unreadable payload: ServerAdded v9" in result.stdout
    assert "read model: not compared, the log could not be folded" in result.stdout


async def test_an_import_with_one_malformed_line_is_refused_with_nothing_written(
    history: History, tmp_path: Path
) -> None:
    target = ServerProcess(database_url=sqlite_url(tmp_path), data_dir=tmp_path)
    await migrated(target.database_url)
    before = await tables(target.database_url)
    lines = history.exported.read_text().splitlines()
    lines[-1] = lines[-1][: len(lines[-1]) // 2]
    result = import_from_stdin(target, "\n".join(lines) + "\n")
    assert result.returncode == 1
    assert "import refused, nothing was written (1 problem)" in result.stderr
    assert "line 6: not valid JSON" in result.stderr
    assert await tables(target.database_url) == before
    assert before["events"] == []


async def test_an_import_names_every_bad_line(history: History, tmp_path: Path) -> None:
    target = ServerProcess(database_url=sqlite_url(tmp_path), data_dir=tmp_path)
    await migrated(target.database_url)
    before = await tables(target.database_url)
    events = [json.loads(line) for line in history.exported.read_text().splitlines()]
    tokyo = history.ids["tokyo"]
    events[2]["occurredAt"] = events[2]["occurredAt"][:19]
    events[1]["type"] = "ServerExploded"
    events[3]["streamVersion"] = 3
    del events[4]["actor"]
    bad = tmp_path / "bad.jsonl"
    bad.write_text("".join(json.dumps(event) + "\n" for event in events))
    result = target.cli("import", "--input", str(bad), check=False)
    assert result.returncode == 1
    for expected in [
        "line 2: unreadable payload: ServerExploded v1",
        "line 3: occurredAt is not an ISO 8601 time with an offset",
        f"line 4: stream {tokyo}: version 3 after 1 (version 2 missing)",
        "line 5: missing actor",
    ]:
        assert expected in result.stderr
    assert await tables(target.database_url) == before


async def test_an_empty_input_is_refused_as_a_likely_failed_export(tmp_path: Path) -> None:
    target = ServerProcess(database_url=sqlite_url(tmp_path), data_dir=tmp_path)
    result = import_from_stdin(target, "")
    assert result.returncode == 1
    assert "the input holds no events: nothing to import" in result.stderr
