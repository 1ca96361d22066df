"""Subscription delivery across instances, and server memory under subscribers."""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from bench.infra import CLK_TCK, ROOT, Database, log, percentile

CHANGE_MUTATION = (
    "mutation($id: ID!, $name: String!) { changeMailServer(input: {id: $id, name: $name}) "
    "{ server { version } errors { code } } }"
)


def change_body(server_id: str, name: str) -> bytes:
    return json.dumps({"query": CHANGE_MUTATION, "variables": {"id": server_id, "name": name}}).encode()


def mutation_ok(response: httpx.Response) -> bool:
    if response.status_code != 200:
        return False
    body = response.json()
    return "errors" not in body and body["data"]["changeMailServer"]["errors"] == []


def _append(path: Path) -> Any:
    return path.open("ab")


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


class SubscriberProcess:
    """The bench.subscribers children (the clients split evenly over them) and their line protocol."""

    def __init__(self, urls: list[str], count: int, token: str, out: Path, workdir: Path, processes: int = 1) -> None:
        self.urls, self.count, self.token, self.out, self.workdir = urls, count, token, out, workdir
        self.processes = max(1, min(processes, count))
        self.procs: list[asyncio.subprocess.Process] = []

    def share(self, k: int) -> tuple[int, int]:
        """(first client index, client count) of child k."""
        base, extra = divmod(self.count, self.processes)
        first = k * base + min(k, extra)
        return first, base + (1 if k < extra else 0)

    def part(self, k: int) -> Path:
        return self.out.with_name(f"{self.out.stem}.{k}{self.out.suffix}")

    async def start(self) -> None:
        for k in range(self.processes):
            first, count = self.share(k)
            argv = [sys.executable, "-m", "bench.subscribers", "--count", str(count), "--first", str(first)]
            argv += ["--token", self.token, "--out", str(self.part(k))]
            for url in self.urls:
                argv += ["--url", url]
            stderr = _append(self.workdir / "subscribers.log")
            self.procs.append(
                await asyncio.create_subprocess_exec(
                    *argv,
                    stdin=asyncio.subprocess.PIPE,
                    stdout=asyncio.subprocess.PIPE,
                    stderr=stderr,
                    cwd=self.workdir,
                    env=child_env(),
                )
            )
            stderr.close()

    async def _expect_one(self, proc: asyncio.subprocess.Process, word: str, within: float) -> list[str]:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), within)).decode().split()
        if not line or line[0] != word:
            log_tail = (self.workdir / "subscribers.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"subscribers: expected {word}, got {line!r}\n{log_tail}")
        return line[1:]

    async def expect(self, word: str, within: float) -> list[str]:
        """The word from every child; numbers after it are summed over the children."""
        answers = await asyncio.gather(*(self._expect_one(p, word, within) for p in self.procs))
        return [str(sum(int(a[i]) for a in answers)) for i in range(len(answers[0]))]

    async def send(self, line: str) -> None:
        for proc in self.procs:
            assert proc.stdin is not None
            proc.stdin.write((line + "\n").encode())
            await proc.stdin.drain()

    def cpu_seconds(self) -> float:
        """utime + stime of the children so far (the client side's own cost)."""
        total = 0.0
        for proc in self.procs:
            with contextlib.suppress(OSError):
                fields = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
                total += (int(fields[11]) + int(fields[12])) / CLK_TCK
        return total

    def report(self) -> dict[str, Any]:
        clients: list[Any] = []
        for k in range(self.processes):
            clients += json.loads(self.part(k).read_text())["clients"]
        return {"urls": self.urls, "clients": clients}

    async def stop(self) -> None:
        for proc in self.procs:
            if proc.returncode is None:
                proc.terminate()
                try:
                    await asyncio.wait_for(proc.wait(), 10)
                except TimeoutError:
                    proc.kill()
                    await proc.wait()

    async def connect_and_sync(self, write: Any, within: float) -> tuple[int, int, int]:
        """Start, wait for every client to subscribe, then write until every
        client has received an event. Returns (connected, failed, synced)."""
        await self.start()
        connected, failed = (int(x) for x in await self.expect("CONNECTED", within))
        log(f"  {connected} subscribers connected ({failed} failed); syncing ...")
        sync = asyncio.create_task(self.expect("SYNCED", 150))
        n = 0
        while not sync.done():
            n += 1
            await write(f"sync {n}")
            await asyncio.wait({sync}, timeout=0.25)
        (synced,) = (int(x) for x in sync.result())
        log(f"  {synced} subscribers synced after {n} writes")
        return connected, failed, synced


@dataclass
class DeliveryResult:
    subscribers: int
    connected: int
    failed_to_connect: int
    synced: int
    events: int
    writes_failed: int
    write_rate: float
    deliveries: int = 0
    missing: int = 0
    duplicates: int = 0
    out_of_order: int = 0
    dropped: int = 0  # clients whose connection ended or errored
    first_error: str = ""
    first_write_error: str = ""
    server_cpu: list[float] = field(default_factory=list)  # CPU seconds per server, writes to drained
    client_cpu: float = 0.0  # CPU seconds of the subscriber processes over the same window
    peak_rss_kb: list[int] = field(default_factory=list)  # VmHWM per server at the end
    seconds: float = 0.0  # from the first write sent to the last answered
    latencies: list[float] = field(default_factory=list)

    @property
    def p50_ms(self) -> float:
        return percentile(self.latencies, 50) * 1000

    @property
    def p99_ms(self) -> float:
        return percentile(self.latencies, 99) * 1000

    @property
    def max_ms(self) -> float:
        return max(self.latencies) * 1000 if self.latencies else math.nan


@dataclass
class Writes:
    count: int
    failed: int
    rate: float  # writes answered per second, first sent to last answered
    first_error: str = ""
    seconds: float = 0.0


async def paced_writes(url: str, token: str, server_ids: list[str], rate: float, duration: float, label: str) -> Writes:
    """changeMailServer at a fixed rate (open loop: a slow answer does not delay
    the next write; each write goes on its own connection from a pool)."""
    headers = {"authorization": f"Bearer {token}", "content-type": "application/json"}
    failures = 0
    first_error = ""
    limits = httpx.Limits(max_connections=1000, max_keepalive_connections=100)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:

        async def one(k: int) -> None:
            nonlocal failures, first_error
            body = change_body(server_ids[k % len(server_ids)], f"{label} {k}")
            try:
                response = await client.post("/graphql", content=body, headers=headers)
                if not mutation_ok(response):
                    failures += 1
                    first_error = first_error or f"HTTP {response.status_code}: {response.text[:200]}"
            except httpx.HTTPError as error:
                failures += 1
                first_error = first_error or f"{type(error).__name__}: {error}"

        count = max(1, int(rate * duration))
        started = time.perf_counter()
        tasks = []
        for k in range(count):
            delay = started + k / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(k)))
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - started
    return Writes(count, failures, count / max(elapsed, 1e-9), first_error, elapsed)


async def one_write(url: str, token: str, server_id: str, name: str) -> None:
    headers = {"authorization": f"Bearer {token}", "content-type": "application/json"}
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        response = await client.post("/graphql", content=change_body(server_id, name), headers=headers)
        if not mutation_ok(response):
            raise RuntimeError(f"write failed: {response.status_code} {response.text[:300]}")


async def delivery(
    database: Database,
    writer_url: str,
    ws_urls: list[str],
    token: str,
    server_ids: list[str],
    *,
    subscribers: int,
    rate: float,
    duration: float,
    drain: float,
    workdir: Path,
    servers: Sequence[Any] = (),
    client_processes: int = 1,
    label: str = "live",
    window: Callable[[], contextlib.AbstractAsyncContextManager[None]] | None = None,
) -> DeliveryResult:
    """Subscribers spread over `ws_urls`; a writer commits `rate` events/s via
    HTTP on `writer_url`; latency = client receive time - the event's occurred_at."""
    out = workdir / "subscribers.json"
    children = SubscriberProcess(ws_urls, subscribers, token, out, workdir, client_processes)
    rss_kb: list[int] = []
    client_cpu = 0.0
    try:
        connected, failed, synced = await children.connect_and_sync(
            lambda name: one_write(writer_url, token, server_ids[0], name), within=300
        )
        first = await database.last_position()
        async with window() if window is not None else contextlib.nullcontext():  # e.g. a profile
            cpu_before = [s.cpu_seconds() for s in servers]
            client_before = children.cpu_seconds()
            writes = await paced_writes(writer_url, token, server_ids, rate, duration, label)
            last = await database.last_position()
            log(f"  {writes.count} writes done ({writes.rate:.1f}/s answered, {writes.failed} failed); draining ...")
            await children.send(f"STOP {last} {drain}")
            await children.expect("DRAINED", drain + 120)
            cpu = [s.cpu_seconds() - c for s, c in zip(servers, cpu_before, strict=True)]
            client_cpu = children.cpu_seconds() - client_before  # before the children exit
        rss_kb = [s.status_kb("VmHWM") for s in servers]
    finally:
        await children.stop()
    report = children.report()
    conn = await asyncpg.connect(database.dsn)
    try:
        rows = await conn.fetch(
            "SELECT position, occurred_at FROM events WHERE position > $1 AND position <= $2", first, last
        )
    finally:
        await conn.close()
    occurred = {row["position"]: row["occurred_at"].timestamp() for row in rows}
    expected = set(occurred)
    result = DeliveryResult(
        subscribers,
        connected,
        failed,
        synced,
        len(expected),
        writes.failed,
        writes.rate,
        first_write_error=writes.first_error,
        server_cpu=cpu,
        client_cpu=client_cpu,
        peak_rss_kb=rss_kb,
        seconds=writes.seconds,
    )
    for client in report["clients"]:
        if client["error"].startswith("connect:"):
            result.first_error = result.first_error or client["error"]
            continue
        if client["error"]:
            result.dropped += 1
            result.first_error = result.first_error or client["error"]
        got: set[int] = set()
        previous = 0
        for position, received in zip(client["positions"], client["times"], strict=True):
            if position not in expected:
                continue
            if position in got:
                result.duplicates += 1
                continue
            if position < previous:
                result.out_of_order += 1
            previous = position
            got.add(position)
            result.latencies.append(received - occurred[position])
        result.deliveries += len(got)
        result.missing += len(expected - got)
    return result


@dataclass
class MemoryResult:
    servers: int
    subscribers: int
    connected: int
    idle_kb: int
    loaded_kb: int
    peak_kb: int


async def memory_under_subscribers(
    database: Database,
    server: Any,
    token: str,
    server_ids: list[str],
    *,
    subscribers: int,
    duration: float,
    workdir: Path,
    read_queries: list[bytes],
    read_token: str,
) -> MemoryResult:
    """RSS of one server process holding `subscribers` live subscriptions while
    events are written at 20/s (each delivered to every subscriber before the
    end) and the list is read now and then. The peak is VmHWM at the end."""
    idle = server.status_kb("VmRSS")
    out = workdir / "rss-subscribers.json"
    children = SubscriberProcess([server.ws_url], subscribers, token, out, workdir)
    try:
        connected, _failed, _synced = await children.connect_and_sync(
            lambda name: one_write(server.url, token, server_ids[0], name), within=300
        )
        headers = {"authorization": f"Bearer {read_token}", "content-type": "application/json"}
        async with httpx.AsyncClient(base_url=server.url, timeout=120) as client:
            writes = asyncio.create_task(paced_writes(server.url, token, server_ids, 20, duration, "rss"))
            for body in read_queries:
                response = await client.post("/graphql", content=body, headers=headers)
                if response.status_code != 200 or b'"errors"' in response.content:
                    raise RuntimeError(f"read failed: {response.text[:300]}")
            await writes
        last = await database.last_position()
        await children.send(f"STOP {last} 300")
        await children.expect("DRAINED", 400)
        loaded = server.status_kb("VmRSS")  # the subscribers are still connected
        peak = server.status_kb("VmHWM")
        await children.expect("DONE", 60)
    finally:
        await children.stop()
    return MemoryResult(len(server_ids), subscribers, connected, idle, loaded, peak)
