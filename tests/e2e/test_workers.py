"""`mailreg serve --workers 2`: two processes on one port, each a whole
instance on the shared database; a client never notices which one answered."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import httpx
import pytest

from tests.e2e.live import ADMIN, Api, LiveServer, Socket, fresh_database, manual

pytestmark = [pytest.mark.postgres]

ROUNDS = 20
EVENTS = "subscription E($after: String) { mailServerEvents(after: $after) { position type } }"


def workers_of(server: LiveServer) -> list[int]:
    assert server.process is not None
    pid = server.process.pid
    return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


async def fresh_client(url: str) -> httpx.AsyncClient:
    # A new connection each time: the kernel hands each to whichever worker accepts first.
    return httpx.AsyncClient(base_url=url, timeout=10, headers={"Connection": "close"})


async def test_two_workers_serve_one_port_and_every_write_is_read_back_on_any_connection(tmp_path: Path) -> None:
    async with fresh_database() as url:
        server = LiveServer(database_url=url, data_dir=tmp_path, extra_env={"MAILREG_WORKERS": "2"})
        await asyncio.to_thread(server.start, 60)
        try:
            assert len(workers_of(server)) == 2
            async with await fresh_client(server.url) as http:
                server_id = (await Api(http).add(manual("workers")))["id"]
            for n in range(ROUNDS):
                async with await fresh_client(server.url) as http:
                    await Api(http).mutate("changeMailServer", {"id": server_id, "name": f"Round {n}"})
                async with await fresh_client(server.url) as http:
                    listed = await Api(http).servers()
                assert [s["name"] for s in listed["items"] if s["id"] == server_id] == [f"Round {n}"]
                assert listed["items"][0]["version"] == n + 2
        finally:
            code = await asyncio.to_thread(server.stop, signal.SIGTERM)
    assert code == 0


async def test_a_subscriber_on_one_worker_sees_changes_made_through_the_other(tmp_path: Path) -> None:
    async with fresh_database() as url:
        server = LiveServer(database_url=url, data_dir=tmp_path, extra_env={"MAILREG_WORKERS": "2"})
        await asyncio.to_thread(server.start, 60)
        try:
            async with await fresh_client(server.url) as http:
                server_id = (await Api(http).add(manual("watched")))["id"]
                after = (await Api(http).events())[-1]["position"]
            async with Socket.open(server.ws_url, ADMIN) as socket:
                await socket.subscribe(EVENTS, {"after": after})
                for n in range(ROUNDS):
                    async with await fresh_client(server.url) as http:
                        await Api(http).mutate("changeMailServer", {"id": server_id, "name": f"Seen {n}"})
                received = [await socket.next() for _ in range(ROUNDS)]
        finally:
            await asyncio.to_thread(server.stop)
    positions = [int(data["mailServerEvents"]["position"]) for data in received]
    assert positions == sorted(positions) and len(set(positions)) == ROUNDS
    assert {data["mailServerEvents"]["type"] for data in received} == {"ServerChanged"}
