"""kill -9 of the API while eight clients keep it committing batches (group
commit): every acknowledged change is in the log, nothing is there that no
client sent, no stream has a gap, and the read model equals the log."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from events.database import create_engine
from tests.e2e.live import ADMIN, Api, LiveServer, fresh_database, manual

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

CLIENTS = 8
LEAST_ACKS = 40
WITHIN_SECONDS = 60.0

CHANGE = (
    "mutation C($input: ChangeMailServerInput!) { changeMailServer(input: $input) "
    "{ server { id version name } errors { field code } } }"
)
SHARED_BATCHES = sa.text(
    "SELECT count(*) FROM (SELECT occurred_at FROM events WHERE position > :after "
    "GROUP BY occurred_at HAVING count(DISTINCT stream_id) > 1) AS batches"
)
CHANGES = sa.text(
    "SELECT stream_id, stream_version, data -> 'changes' -> 0 ->> 'after' AS name FROM events "
    "WHERE position > :after ORDER BY position"
)


@dataclass
class Ledger:
    sent: dict[str, set[str]] = field(default_factory=dict)  # server id -> names sent
    acknowledged: dict[tuple[str, int], str] = field(default_factory=dict)  # (server id, version) -> name
    refused: list[str] = field(default_factory=list)


async def client(number: int, url: str, server_id: str, ledger: Ledger, stop: asyncio.Event) -> None:
    """Renames its own server again and again until the API stops answering."""
    sent = ledger.sent.setdefault(server_id, set())
    async with httpx.AsyncClient(base_url=url, timeout=10, headers={"Authorization": f"Bearer {ADMIN}"}) as http:
        n = 0
        while not stop.is_set():
            n += 1
            name = f"client {number} change {n}"
            sent.add(name)
            try:
                response = await http.post(
                    "/graphql", json={"query": CHANGE, "variables": {"input": {"id": server_id, "name": name}}}
                )
            except httpx.TransportError:
                return
            body: dict[str, Any] = response.json() if response.status_code == 200 else {}
            payload = (body.get("data") or {}).get("changeMailServer")
            if payload is None or payload["errors"] or body.get("errors"):
                ledger.refused.append(response.text[:300])
                continue
            ledger.acknowledged[(server_id, payload["server"]["version"])] = payload["server"]["name"]


async def test_a_kill_while_batches_commit_keeps_every_acknowledged_change_and_nothing_else(tmp_path: Path) -> None:
    async with fresh_database() as url:
        engine = create_engine(url)
        server = LiveServer(database_url=url, data_dir=tmp_path / "serve")
        try:
            await asyncio.to_thread(server.start, 60)
            async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
                ids = [(await Api(http).add(manual(f"batch-{n}")))["id"] for n in range(CLIENTS)]
            async with engine.connect() as conn:
                start = int((await conn.execute(sa.text("SELECT max(position) FROM events"))).scalar_one())

            ledger, stop = Ledger(), asyncio.Event()
            clients = [asyncio.create_task(client(n, server.url, i, ledger, stop)) for n, i in enumerate(ids)]
            deadline, shared = time.monotonic() + WITHIN_SECONDS, 0
            while time.monotonic() < deadline and (shared == 0 or len(ledger.acknowledged) < LEAST_ACKS):
                await asyncio.sleep(0.1)
                async with engine.connect() as conn:
                    shared = int((await conn.execute(SHARED_BATCHES, {"after": start})).scalar_one())
            assert server.process is not None
            server.process.kill()  # the clients are still sending: a batch is in flight
            stop.set()
            await asyncio.wait_for(asyncio.gather(*clients), 20)
            await asyncio.to_thread(server.stop)

            async with engine.connect() as conn:
                rows = (await conn.execute(CHANGES, {"after": start})).all()
            check = await asyncio.to_thread(LiveServer(database_url=url, data_dir=tmp_path).cli, "check", check=False)
        finally:
            await asyncio.to_thread(server.stop)
            await engine.dispose()

    assert shared > 0, "no batch of several commands was committed: nothing was tested"
    assert ledger.refused == [], ledger.refused[:5]
    logged = {(r.stream_id, r.stream_version): r.name for r in rows}
    lost = {k: v for k, v in ledger.acknowledged.items() if logged.get(k) != v}
    assert lost == {}, f"acknowledged but not in the log as told: {list(lost.items())[:5]}"
    unsent = [(r.stream_id, r.name) for r in rows if r.name not in ledger.sent.get(r.stream_id, set())]
    assert unsent == [], unsent[:5]
    for server_id in ids:
        versions = sorted(v for s, v in logged if s == server_id)
        assert versions == list(range(2, 2 + len(versions))), (server_id, versions)
    assert check.returncode == 0, check.stdout + check.stderr
