"""kill -9 of the API while four clients add and change servers: every
acknowledged mutation survives, nothing unacknowledged is half-applied, and
the read model equals a rebuild of the log."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.eventlog import EventLog
from tests.e2e.live import ADMIN, Api, LiveServer, differences, fold, manual
from tests.e2e.private_pg import START_WITHIN, announce, running_cluster

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

ROUNDS = 2
CLIENTS = 4
MAX_PER_CLIENT = 500
ACKS_PER_ROUND = 40
LOAD_SECONDS = (1.0, 8.0)

SERVER = "server { id code name version } errors { field code }"
ADD = f"mutation A($input: AddMailServerInput!) {{ addMailServer(input: $input) {{ {SERVER} }} }}"
CHANGE = f"mutation C($input: ChangeMailServerInput!) {{ changeMailServer(input: $input) {{ {SERVER} }} }}"


@dataclass
class Ledger:
    """What the clients were told: (server id, version) -> the server as acknowledged."""

    acknowledged: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict)
    sent: int = 0
    unanswered: int = 0
    refused: list[str] = field(default_factory=list)


async def client(number: int, round: int, url: str, ledger: Ledger, stop: asyncio.Event) -> None:
    """Adds servers and renames its own ones until the server stops answering."""
    mine: list[str] = []
    headers = {"Authorization": f"Bearer {ADMIN}"}
    async with httpx.AsyncClient(base_url=url, timeout=10, headers=headers) as http:
        for n in range(MAX_PER_CLIENT):
            if stop.is_set():
                return
            if mine and n % 2:
                query, input = CHANGE, {"id": mine[n % len(mine)], "name": f"renamed r{round} c{number} n{n}"}
            else:
                query, input = ADD, manual(f"r{round}-c{number}-{n}")
            ledger.sent += 1
            try:
                response = await http.post("/graphql", json={"query": query, "variables": {"input": input}})
            except httpx.TransportError:
                ledger.unanswered += 1
                return
            body = response.json() if response.status_code == 200 else {}
            payload = next(iter((body.get("data") or {}).values()), None)
            if payload is None or payload["errors"] or body.get("errors"):
                ledger.refused.append(response.text[:300])
                continue
            server = payload["server"]
            ledger.acknowledged[(server["id"], server["version"])] = server
            if query is ADD:
                mine.append(server["id"])


async def load_then_kill(server: LiveServer, round: int, ledger: Ledger) -> None:
    stop = asyncio.Event()
    clients = [asyncio.create_task(client(n, round, server.url, ledger, stop)) for n in range(CLIENTS)]
    # Kill once this round has enough acknowledgements (bounded in time either way),
    # at a moment that varies from round to round, with requests in flight.
    least, most = LOAD_SECONDS
    started, before = time.monotonic(), len(ledger.acknowledged)
    while (elapsed := time.monotonic() - started) < most and not all(task.done() for task in clients):
        if elapsed >= least + 0.15 * round and len(ledger.acknowledged) - before >= ACKS_PER_ROUND:
            break
        await asyncio.sleep(0.05)
    assert server.process is not None
    server.process.kill()
    stop.set()
    await asyncio.wait_for(asyncio.gather(*clients), 20)
    await asyncio.to_thread(server.stop)


async def test_acknowledged_mutations_survive_kill_9_and_nothing_is_half_applied(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = await running_cluster().create_database()
    ledger = Ledger()
    log = EventLog(url)
    launched: list[LiveServer] = []

    async def start() -> LiveServer:
        launched.append(LiveServer(database_url=url, data_dir=tmp_path / "serve"))
        return await asyncio.to_thread(launched[-1].start, START_WITHIN)

    started = time.monotonic()
    try:
        LiveServer(database_url=url, data_dir=tmp_path).cli("migrate")
        for round in range(ROUNDS):
            await load_then_kill(await start(), round, ledger)
        # `mailreg check` judges the log and read model exactly as the kills left them.
        check, server = await asyncio.gather(
            asyncio.to_thread(LiveServer(database_url=url, data_dir=tmp_path).cli, "check", check=False), start()
        )
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
            listed = await Api(http).servers()
            events = await Api(http).events()
        rows = await log.rows()
        await asyncio.to_thread(server.stop)
        rebuilt = server.cli("rebuild-projections")
        async with httpx.AsyncClient(base_url=(await start()).url, timeout=10) as http:
            after_rebuild = await Api(http).servers()
    finally:
        for process in launched:
            await asyncio.to_thread(process.stop)
        await log.dispose()

    assert ledger.refused == [], ledger.refused[:5]
    assert len(ledger.acknowledged) >= ACKS_PER_ROUND * ROUNDS / 2, "too little load to say anything"
    in_log = {(row.stream_id, row.stream_version) for row in rows}
    lost = sorted(set(ledger.acknowledged) - in_log)
    assert lost == [], f"acknowledged but not in the log: {lost[:10]}"
    current = {s["id"]: s for s in listed["items"]}
    for (server_id, version), acked in ledger.acknowledged.items():
        assert server_id in current, f"acknowledged {acked} missing from the read model"
        now = current[server_id]
        assert now["version"] >= version and now["code"] == acked["code"], (acked, now)
        if now["version"] == version:
            assert now["name"] == acked["name"], (acked, now)
    # Every event in the log, acknowledged or not, has its whole effect in the read model.
    assert len(events) == len(rows)
    assert differences(listed, fold(events).listed()) == []
    has_check = "No such command" not in check.stderr
    if has_check:
        assert check.returncode == 0, check.stdout + check.stderr
    assert differences(after_rebuild, listed) == [], rebuilt.stdout

    announce(
        request,
        (
            f"faults/kill-9: {ROUNDS} kill -9 injected under {CLIENTS} clients; {ledger.sent} mutations sent, "
            f"{len(ledger.acknowledged)} acknowledged and all found in log and read model (0 lost), "
            f"{ledger.unanswered} cut off unanswered; {len(rows)} events checked against the read model; "
            f"mailreg check {'exit 0' if has_check else 'missing (skipped)'}; rebuild equal "
            f"({listed['totalCount']} servers) in {time.monotonic() - started:.1f}s"
        ),
    )
