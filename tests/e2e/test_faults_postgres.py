"""A crash of PostgreSQL (pg_ctl stop -m immediate) under a running API.

One scenario runs once per module and records what it saw; each test then
judges one promise of the contract's Faults section against the record."""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import websockets

from tests.e2e.eventlog import EventLog
from tests.e2e.live import ADMIN, Api, LiveServer, Socket, differences, fold, manual
from tests.e2e.private_pg import START_WITHIN, announce, running_cluster

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

READY_WITHIN, ANSWER_WITHIN, RECOVER_WITHIN = 5.0, 10.0, 20.0
LEAKS = ("Traceback", 'File "', "sqlalchemy", "asyncpg", "psycopg", "ConnectionRefusedError")
POSITIONS = "subscription E($after: String) { mailServerEvents(after: $after) { position } }"
PAYLOAD = "{ server { id code } errors { code } }"
ADD = f"mutation A($input: AddMailServerInput!) {{ addMailServer(input: $input) {PAYLOAD} }}"
CHANGE = f"mutation C($input: ChangeMailServerInput!) {{ changeMailServer(input: $input) {PAYLOAD} }}"
READS = {
    "mailServers": "{ mailServers { version totalCount items { id code name } } }",
    "mailServer": '{ mailServer(code: "before-0") { id code } }',
    "mailServerChoices": "{ mailServerChoices { id code name } }",
    "events": "{ events(first: 5) { edges { cursor node { type } } } }",
}
Json = dict[str, Any]


@dataclass
class Answer:
    what: str
    status: int | None  # None: no answer at all within the client's own timeout
    seconds: float
    text: str

    def body(self) -> Json:
        try:
            value = json.loads(self.text)
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}

    def leaks(self) -> list[str]:
        return [leak for leak in LEAKS if leak in self.text]


@dataclass
class Follower:
    """A mailServerEvents subscriber that records positions as they arrive."""

    socket: Socket
    seen: list[tuple[int, float]] = field(default_factory=list)
    ended: str | None = None
    task: asyncio.Task[None] | None = None

    async def run(self) -> None:
        try:
            while True:
                message = await self.socket.receive(120)
                if message["type"] != "next" or message["payload"].get("errors"):
                    self.ended = json.dumps(message)[:500]
                    return
                position = int(message["payload"]["data"]["mailServerEvents"]["position"])
                self.seen.append((position, time.monotonic()))
        except websockets.ConnectionClosed as closed:
            self.ended = f"closed {closed.rcvd}"
        except TimeoutError:
            self.ended = "silent for 120 s"

    @property
    def positions(self) -> list[int]:
        return [position for position, _ in self.seen]

    async def reaches(self, count: int, within: float = 10.0) -> None:
        """Waits until `count` events have arrived."""
        started = time.monotonic()
        while len(self.seen) < count:
            assert time.monotonic() - started < within, f"{len(self.seen)} of {count} events; ended: {self.ended}"
            await asyncio.sleep(0.02)


@dataclass
class Outage:
    during: list[Answer] = field(default_factory=list)
    in_flight: list[Answer] = field(default_factory=list)
    recovery: list[Answer] = field(default_factory=list)
    new_subscription: Answer | None = None
    acknowledged: list[Json] = field(default_factory=list)
    first: int = 0
    ready_after: float | None = None
    writable_after: float | None = None
    readable_after: float | None = None
    same_process: bool = False
    stayed_positions: list[int] = field(default_factory=list)
    stayed_ended: str | None = None
    resume_after: int = 0
    resumed: list[int] = field(default_factory=list)
    cross_process_latency: list[float] = field(default_factory=list)
    log: list[int] = field(default_factory=list)
    listed: Json = field(default_factory=dict)
    events: list[Json] = field(default_factory=list)
    check: subprocess.CompletedProcess[str] | None = None

    def of(self, prefix: str) -> list[Answer]:
        return [a for a in self.during + self.recovery if a.what.startswith(prefix)]


async def ask(http: httpx.AsyncClient, what: str, query: str | None = None, variables: Json | None = None) -> Answer:
    started = time.monotonic()
    try:
        if query is None:
            response = await http.get(what)
        else:
            response = await http.post("/graphql", json={"query": query, "variables": variables or {}})
        return Answer(what, response.status_code, time.monotonic() - started, response.text)
    except httpx.HTTPError as error:
        return Answer(what, None, time.monotonic() - started, f"{type(error).__name__}: {error}")


async def add(api: Api, code: str) -> Json:
    payload = await api.mutate("addMailServer", manual(code))
    server: Json = payload["server"]
    return server


async def probe_outage(http: httpx.AsyncClient, outage: Outage, server_id: str) -> None:
    """Every kind of request while the database is away, one by one and then all at once."""
    requests: list[tuple[str, str | None, Json | None]] = [("/readyz", None, None), ("/healthz", None, None)]
    requests += [
        ("mutation addMailServer", ADD, {"input": manual("during-outage")}),
        ("mutation changeMailServer", CHANGE, {"input": {"id": server_id, "name": "during outage"}}),
    ]
    requests += [(f"read {name}", query, None) for name, query in READS.items()]
    for what, query, variables in requests:
        outage.during.append(await ask(http, what, query, variables))
    outage.during += await asyncio.gather(*(ask(http, w, q, v) for w, q, v in requests * 2))


async def open_subscription_during_outage(url: str, after: int) -> Answer:
    started = time.monotonic()
    try:
        async with Socket.open(url) as socket:
            await socket.subscribe(POSITIONS, {"after": str(after)})
            message = await socket.receive(ANSWER_WITHIN + 2)
            return Answer("subscribe", 200, time.monotonic() - started, json.dumps(message))
    except (websockets.ConnectionClosed, TimeoutError, OSError) as error:
        return Answer("subscribe", None, time.monotonic() - started, f"{type(error).__name__}: {error}")


async def resume(url: str, after: int, until: int) -> list[int]:
    """Positions a subscriber resuming with `after` receives, up to `until`."""
    seen: list[int] = []
    async with Socket.open(url) as socket:
        await socket.subscribe(POSITIONS, {"after": str(after)})
        while not seen or seen[-1] < until:
            seen.append(int((await socket.next(10))["mailServerEvents"]["position"]))
    return seen


async def recover(http: httpx.AsyncClient, api: Api, outage: Outage, back: float) -> None:
    """Poll until ready, writable and readable again (bounded by RECOVER_WITHIN)."""
    attempt = 0
    while time.monotonic() - back < RECOVER_WITHIN and None in (
        outage.ready_after,
        outage.writable_after,
        outage.readable_after,
    ):
        attempt += 1
        ready, health = await ask(http, "/readyz"), await ask(http, "/healthz")
        outage.recovery += [ready, health]
        if outage.ready_after is None and ready.status == 200:
            outage.ready_after = time.monotonic() - back
        if outage.writable_after is None:
            written = await ask(http, "mutation addMailServer", ADD, {"input": manual(f"recovery-{attempt}")})
            outage.recovery.append(written)
            payload = (written.body().get("data") or {}).get("addMailServer")
            if payload and payload["errors"] == []:
                outage.acknowledged.append(payload["server"])
                outage.writable_after = time.monotonic() - back
        if outage.readable_after is None:
            read = await ask(http, "read mailServers", READS["mailServers"])
            outage.recovery.append(read)
            if read.status == 200 and not read.body().get("errors"):
                outage.readable_after = time.monotonic() - back
        await asyncio.sleep(0.25)


@pytest.fixture(scope="module")
async def outage(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> AsyncIterator[Outage]:
    cluster = running_cluster()
    url = await cluster.create_database()
    folder = tmp_path_factory.mktemp("pg-crash")
    server = LiveServer(database_url=url, data_dir=folder / "a")
    other = LiveServer(database_url=url, data_dir=folder / "b")
    record = Outage()
    followers: list[Follower] = []
    log = EventLog(url)
    started = time.monotonic()
    server.data_dir.mkdir()
    server.cli("migrate")
    fresh = httpx.Limits(max_keepalive_connections=0)  # one bad answer must not spoil the next request
    try:
        await asyncio.to_thread(server.start, START_WITHIN)
        async with AsyncExitStack() as stack:
            http = await stack.enter_async_context(
                httpx.AsyncClient(
                    base_url=server.url, timeout=15, limits=fresh, headers={"Authorization": f"Bearer {ADMIN}"}
                )
            )
            api = Api(http)
            record.acknowledged += [await add(api, f"before-{n}") for n in range(4)]
            record.first = (await log.rows())[0].position
            stayed = Follower(await stack.enter_async_context(Socket.open(server.ws_url)))
            resumer = Follower(await stack.enter_async_context(Socket.open(server.ws_url)))
            followers += [stayed, resumer]
            for follower in followers:
                await follower.socket.subscribe(POSITIONS, {"after": str(record.first)})
                follower.task = asyncio.create_task(follower.run())
                await follower.reaches(3)

            # Crash while a burst of writes and reads is in flight.
            burst = [ask(http, f"mutation in flight {n}", ADD, {"input": manual(f"in-flight-{n}")}) for n in range(6)]
            burst += [ask(http, f"read in flight {n}", READS["mailServers"]) for n in range(4)]
            in_flight = asyncio.gather(*burst)
            await asyncio.sleep(0.02)
            await asyncio.to_thread(cluster.stop)
            crashed = time.monotonic()
            record.in_flight = await in_flight
            for answer in record.in_flight:
                payload = (answer.body().get("data") or {}).get("addMailServer")
                if payload and payload["errors"] == []:
                    record.acknowledged.append(payload["server"])
            await probe_outage(http, record, record.acknowledged[0]["id"])
            await resumer.socket.ws.close()  # this subscriber loses its connection during the outage
            await asyncio.wait_for(resumer.task, 5)  # type: ignore[arg-type]
            record.resume_after = resumer.positions[-1]
            record.new_subscription = await open_subscription_during_outage(server.ws_url, record.resume_after)
            down_for = time.monotonic() - crashed

            await asyncio.to_thread(cluster.start)
            back = time.monotonic()
            await recover(http, api, record, back)
            record.same_process = server.process is not None and server.process.poll() is None
            record.acknowledged += [await add(api, f"after-{n}") for n in range(3)]
            await asyncio.to_thread(other.start, START_WITHIN)
            async with httpx.AsyncClient(base_url=other.url, timeout=15) as other_http:
                for n in range(3):
                    count = len(await log.rows(after=record.first)) + 1
                    await stayed.reaches(count - 1)
                    record.acknowledged.append(await add(Api(other_http), f"elsewhere-{n}"))
                    acknowledged_at = time.monotonic()
                    await stayed.reaches(count)
                    record.cross_process_latency.append(max(0.0, stayed.seen[count - 1][1] - acknowledged_at))
            record.log = [row.position for row in await log.rows()]
            record.resumed = await resume(server.ws_url, record.resume_after, record.log[-1])
            await stayed.reaches(len([p for p in record.log if p > record.first]))
            record.stayed_positions, record.stayed_ended = stayed.positions, stayed.ended
            record.listed = await api.servers()
            record.events = await api.events()
        record.check = server.cli("check", check=False)
        announce(
            request,
            (
                f"faults/postgres: 1 crash injected with {len(record.in_flight)} requests in flight, down "
                f"{down_for:.1f}s, {len(record.during)} requests during the outage (slowest "
                f"{max(a.seconds for a in record.in_flight + record.during):.2f}s); "
                f"ready/writable/readable again after "
                f"{seconds(record.ready_after)}/{seconds(record.writable_after)}/{seconds(record.readable_after)}; "
                f"{len(record.acknowledged)} acknowledged mutations and {len(record.log)} events checked; "
                f"resumed subscriber got {len(record.resumed)}, connected one {len(stayed.seen)} events "
                f"(cross-process latency {max(record.cross_process_latency):.2f}s); "
                f"{time.monotonic() - started:.1f}s"
            ),
        )
        yield record
    finally:
        for follower in followers:
            if follower.task is not None:
                follower.task.cancel()
        await log.dispose()
        for process in (other, server):
            await asyncio.to_thread(process.stop)
        if not cluster.running():
            cluster.start()


def seconds(value: float | None) -> str:
    return "never" if value is None else f"{value:.2f}s"


def clean(answer: Answer) -> bool:
    """Answered in time, not with a 5xx other than 503, and without internals."""
    return (
        answer.status is not None
        and (answer.status < 500 or answer.status == 503)
        and answer.seconds < ANSWER_WITHIN
        and not answer.leaks()
    )


def test_readyz_answers_503_within_5s_while_postgres_is_down(outage: Outage) -> None:
    during = [a for a in outage.during if a.what == "/readyz"]
    assert during and all(a.status == 503 and a.seconds < READY_WITHIN for a in during), during


def test_healthz_stays_200_through_the_crash_and_the_recovery(outage: Outage) -> None:
    healthz = outage.of("/healthz")
    assert healthz and all(a.status == 200 for a in healthz), [a for a in healthz if a.status != 200]


def test_mutations_in_flight_at_the_crash_succeed_or_fail_cleanly_within_10s(outage: Outage) -> None:
    mutations = [a for a in outage.in_flight if a.what.startswith("mutation")]
    assert mutations
    for answer in mutations:
        assert clean(answer), answer
        payload = (answer.body().get("data") or {}).get("addMailServer")
        assert (payload and payload["errors"] == []) or answer.body().get("errors"), answer


def test_mutations_fail_with_a_clean_top_level_error_within_10s(outage: Outage) -> None:
    mutations = [a for a in outage.during if a.what.startswith("mutation")]
    assert mutations
    for answer in mutations:
        assert clean(answer), answer
        body = answer.body()
        assert body.get("errors"), answer
        assert [e.get("extensions", {}).get("code") for e in body["errors"]] == ["SERVICE_UNAVAILABLE"], answer


def test_reads_answer_complete_data_or_a_clean_error_within_10s(outage: Outage) -> None:
    reads = [a for a in outage.in_flight + outage.during if a.what.startswith("read")]
    assert reads
    for answer in reads:
        assert clean(answer), answer
        body = answer.body()
        complete = not body.get("errors") and isinstance(body.get("data"), dict) and None not in body["data"].values()
        assert complete or body.get("errors"), answer


def test_a_subscription_opened_during_the_outage_fails_cleanly_within_10s(outage: Outage) -> None:
    answer = outage.new_subscription
    assert answer is not None and answer.seconds < ANSWER_WITHIN and not answer.leaks(), answer
    assert '"next"' not in answer.text, answer


def test_everything_recovers_within_20s_without_restarting_the_api(outage: Outage) -> None:
    assert outage.same_process
    recovered = (outage.ready_after, outage.writable_after, outage.readable_after)
    assert None not in recovered and max(recovered) < RECOVER_WITHIN, recovered  # type: ignore[type-var]


def test_acknowledged_mutations_survive_the_crash(outage: Outage) -> None:
    current = {s["id"]: s["code"] for s in outage.listed["items"]}
    logged = {e["streamId"] for e in outage.events if e["type"] == "ServerAdded"}
    lost = [s for s in outage.acknowledged if current.get(s["id"]) != s["code"] or s["id"] not in logged]
    assert lost == [] and len(outage.acknowledged) >= 10


def test_a_disconnected_subscriber_resumes_with_after_and_misses_nothing(outage: Outage) -> None:
    assert outage.resumed == [p for p in outage.log if p > outage.resume_after]


def test_a_connected_subscriber_receives_events_committed_after_recovery(outage: Outage) -> None:
    assert outage.stayed_ended is None, outage.stayed_ended
    assert outage.stayed_positions == [p for p in outage.log if p > outage.first]
    # Events committed by another process reach it through LISTEN/NOTIFY (or the poll fallback).
    assert max(outage.cross_process_latency) < 5.0, outage.cross_process_latency


def test_log_and_read_model_agree_after_the_crash(outage: Outage) -> None:
    assert differences(outage.listed, fold(outage.events).listed()) == []
    assert outage.check is not None
    if "No such command" not in outage.check.stderr:
        assert outage.check.returncode == 0, outage.check.stdout + outage.check.stderr
