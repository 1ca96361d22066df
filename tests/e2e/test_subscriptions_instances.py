"""Live events across two real `mailreg serve` processes sharing one PostgreSQL
database: a subscriber on one instance sees what the other commits and resumes
after a disconnection without gap or duplicate; subscribers joining while
writers append through both instances switch from the log to the live feed
without gap or duplicate."""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import AsyncIterator, Coroutine
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from gql import Client, GraphQLRequest
from gql.transport.websockets import WebsocketsTransport

from tests.e2e.live import (
    ADMIN,
    CHOICES_SUBSCRIPTION,
    EVENTS_SUBSCRIPTION,
    Api,
    Json,
    Log,
    Socket,
    fresh_database,
    manual,
    processes,
)
from tests.support import token

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

SUBSCRIBERS = 20
WRITES = 100


@dataclass
class Cluster:
    a: Api
    b: Api
    ws_urls: tuple[str, str]
    log: Log


@pytest.fixture(scope="module")
async def cluster(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Cluster]:
    async with (
        fresh_database() as url,
        processes(2, url, tmp_path_factory.mktemp("instances")) as (a, b),
        httpx.AsyncClient(base_url=a.url, timeout=10) as http_a,
        httpx.AsyncClient(base_url=b.url, timeout=10) as http_b,
    ):
        log = Log(url)
        try:
            yield Cluster(a=Api(http_a), b=Api(http_b), ws_urls=(a.ws_url, b.ws_url), log=log)
        finally:
            await log.dispose()


def gql_client(url: str) -> Client:
    transport = WebsocketsTransport(
        url=url,
        subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL],
        init_payload={"authorization": f"Bearer {ADMIN}"},
    )
    return Client(transport=transport, fetch_schema_from_transport=False)


async def receive(url: str, after: str, count: int, during: Coroutine[Any, Any, None]) -> list[Json]:
    """`count` events from a gql subscription with `after`; `during` runs once the first has arrived."""
    received: list[Json] = []
    async with gql_client(url) as session:
        stream = session.subscribe(GraphQLRequest(EVENTS_SUBSCRIPTION, variable_values={"after": after}))
        task = None
        try:
            while len(received) < count:
                result = await asyncio.wait_for(anext(stream), 10)
                received.append(result["mailServerEvents"])
                task = task or asyncio.ensure_future(during)
        finally:
            await stream.aclose()
            if task is not None:
                await task
            else:
                during.close()
    return received


async def test_a_subscriber_on_b_gets_every_event_committed_through_a_also_across_a_disconnection(cluster: Cluster):
    a = cluster.a
    first = await a.add(manual("tokyo"))
    start = (await a.events())[-1]["position"]

    async def write(numbers: range) -> None:
        for number in numbers:
            await a.mutate("changeMailServer", {"id": first["id"], "name": f"Tokyo {number}"})
        await a.add(manual(f"osaka-{numbers.start}"))

    await write(range(1))
    # Connected: the first event comes from the log, the next ones live.
    connected = await receive(cluster.ws_urls[1], start, 2 + 5, during=write(range(10, 14)))
    # Disconnected: six more events land while nobody listens on B.
    await write(range(20, 25))
    # Back again, resuming after the last position seen, while A keeps writing.
    resumed = await receive(cluster.ws_urls[1], connected[-1]["position"], 6 + 3, during=write(range(30, 32)))

    committed = await a.events(after=start)
    assert [e["position"] for e in connected + resumed] == [e["position"] for e in committed]
    assert connected + resumed == committed  # every field as the events query shows it


async def test_a_non_admin_on_b_sees_the_choices_change_with_what_is_committed_through_a(cluster: Cluster):
    a = cluster.a
    transport = WebsocketsTransport(
        url=cluster.ws_urls[1],
        subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL],
        init_payload={"authorization": f"Bearer {token('clerk', roles=['user'])}"},
    )
    async with Client(transport=transport, fetch_schema_from_transport=False) as session:
        stream = session.subscribe(GraphQLRequest(CHOICES_SUBSCRIPTION))
        now = (await asyncio.wait_for(anext(stream), 10))["mailServerChoicesChanged"]
        kyoto = await a.add(manual("kyoto", "Kyoto"))
        later = (await asyncio.wait_for(anext(stream), 10))["mailServerChoicesChanged"]
        await stream.aclose()
    assert later == [*now, {"id": kyoto["id"], "code": "kyoto", "name": "Kyoto"}]


@dataclass
class Subscriber:
    after: int
    url: str
    seen: list[int] = field(default_factory=list)
    caught_up: float = 0.0  # when the writer's last event arrived

    def problems(self, expected: list[int]) -> str:
        counts = Counter(self.seen)
        return (
            f"after {self.after} on {self.url}: missing {sorted(set(expected) - set(self.seen))[:10]}, "
            f"duplicated {[p for p, n in counts.items() if n > 1][:10]}, "
            f"unexpected {sorted(set(self.seen) - set(expected))[:10]}, in order {self.seen == sorted(self.seen)}"
        )


async def listen(subscriber: Subscriber, final: asyncio.Future[int]) -> None:
    """Collect positions until the writer's last one has arrived (which may be
    before the writer says which one is last)."""
    async with Socket.open(subscriber.url) as socket:
        await socket.subscribe(
            "subscription E($after: String) { mailServerEvents(after: $after) { position } }",
            {"after": str(subscriber.after)},
        )
        receiving: asyncio.Future[Json] | None = None
        while not (final.done() and subscriber.seen and subscriber.seen[-1] >= final.result()):
            receiving = receiving or asyncio.ensure_future(socket.next(within=20))
            await asyncio.wait({receiving} if final.done() else {receiving, final}, return_when=asyncio.FIRST_COMPLETED)
            if receiving.done():
                subscriber.seen.append(int(receiving.result()["mailServerEvents"]["position"]))
                receiving = None
        subscriber.caught_up = time.monotonic()
        if receiving is not None:
            receiving.cancel()


async def test_subscribers_joining_while_writers_append_see_every_later_event_exactly_once(cluster: Cluster):
    """Two writers, one through each instance, so that positions interleave
    across processes; subscribers on both instances join as they go."""
    log = cluster.log
    servers = [(await cluster.a.add(manual(f"writer-{n}")))["id"] for n in range(2)]
    chooser = random.Random(20261127)
    final: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    progress = asyncio.Event()
    written = 0
    last_write = [0.0]

    async def writer(api: Api, server_id: str) -> None:
        nonlocal written
        for number in range(WRITES // 2):
            await api.mutate("changeMailServer", {"id": server_id, "name": f"Name {number}"})
            written += 1
            progress.set()

    async def writers() -> None:
        try:
            await asyncio.gather(writer(cluster.a, servers[0]), writer(cluster.b, servers[1]))
            last_write[0] = time.monotonic()
            final.set_result((await log.positions())[-1])
        except BaseException as error:
            final.set_exception(error)  # the listeners stop with it
            raise

    async def joiner() -> list[Subscriber]:
        subscribers, tasks = [], []
        for number in range(SUBSCRIBERS):
            while written < number * WRITES // (SUBSCRIBERS + 4):
                progress.clear()
                await progress.wait()
            known = await log.positions()
            # Mostly near the head (the switch-over edge), some far behind (a replay first).
            after = known[-1 - min(chooser.choice([0, 0, 1, 2, 5, 30, 100]), len(known) - 1)]
            subscriber = Subscriber(after=after, url=cluster.ws_urls[number % 2])
            subscribers.append(subscriber)
            tasks.append(asyncio.create_task(listen(subscriber, final)))
        await asyncio.gather(*tasks)
        return subscribers

    started = time.monotonic()
    writing = asyncio.create_task(writers())
    subscribers = await asyncio.wait_for(joiner(), 120)
    await writing
    everything = await log.positions()
    assert everything[-1] == final.result()
    for subscriber in subscribers:
        expected = [p for p in everything if p > subscriber.after]
        assert subscriber.seen == expected, subscriber.problems(expected)
    assert {s.url for s in subscribers} == set(cluster.ws_urls)
    assert len({s.after for s in subscribers}) > 5
    lag = max(s.caught_up for s in subscribers) - last_write[0]
    print(
        f"\n{WRITES} writes, {SUBSCRIBERS} joining subscribers: {last_write[0] - started:.1f} s; "
        f"the last subscriber caught up {lag * 1000:.0f} ms after the last write returned"
    )
