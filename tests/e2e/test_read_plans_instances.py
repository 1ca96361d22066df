"""Reads answered without GraphQL on two real `mailreg serve` processes sharing one
PostgreSQL database: a read after an acknowledged write on either instance reflects it."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import httpx
import pytest

from tests.e2e.live import Api, fresh_database, manual, processes
from tests.support import token

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

LIST = "{ mailServers { version totalCount items { id name position version } } }"
CHOICES = "{ mailServerChoices { id code name } }"


async def test_every_read_on_either_instance_reflects_the_write_acknowledged_before_it(tmp_path: Path):
    rng = random.Random(10)
    async with fresh_database() as url, processes(2, url, tmp_path) as (a, b):
        async with (
            httpx.AsyncClient(base_url=a.url, timeout=20) as http_a,
            httpx.AsyncClient(base_url=b.url, timeout=20) as http_b,
        ):
            apis = [Api(http_a), Api(http_b)]
            user = token(sub="reader", roles=[])
            ids = [(await apis[n % 2].add(manual(f"srv-{n}")))["id"] for n in range(30)]
            # Readers keep both instances' caches and plans warm while the writes go on.
            stop = asyncio.Event()

            async def keep_reading(api: Api) -> int:
                reads = 0
                while not stop.is_set():
                    await api.data(LIST)
                    await api.data(CHOICES, bearer=user)
                    reads += 1
                return reads

            readers = [asyncio.create_task(keep_reading(api)) for api in apis for _ in range(2)]
            try:
                order = list(ids)
                for step in range(40):
                    writer, reader = rng.sample(apis, 2) if step % 3 else (apis[0], apis[0])
                    if step % 10 == 9:
                        rng.shuffle(order)
                        await writer.mutate("reorderMailServers", {"ids": order})
                    else:
                        target = rng.choice(ids)
                        await writer.mutate("changeMailServer", {"id": target, "name": f"Step {step}"})
                    for api in (reader, writer):
                        listed = (await api.data(LIST))["mailServers"]["items"]
                        choices = (await api.data(CHOICES, bearer=user))["mailServerChoices"]
                        assert [s["id"] for s in listed] == order, step
                        assert [c["id"] for c in choices] == order, step
                        if step % 10 != 9:
                            assert {s["id"]: s["name"] for s in listed}[target] == f"Step {step}"
                            assert {c["id"]: c["name"] for c in choices}[target] == f"Step {step}"
            finally:
                stop.set()
                counts = await asyncio.gather(*readers)
            assert all(counts), counts
