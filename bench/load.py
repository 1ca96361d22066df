"""Closed-loop HTTP load: N concurrent tasks on N keep-alive connections
(httpx.AsyncClient), each sending its next request as soon as the last one
answered. The load generator runs in the bench's own process, on the same two
cores as the server and PostgreSQL; the server's own CPU time per request is
read from /proc so that figure does not depend on who else was running."""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import signal
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bench.infra import Process, percentile

MakeBody = Callable[[int, int], bytes]  # (worker, sequence number) -> request body
Check = Callable[[httpx.Response], bool]


@dataclass
class LoadResult:
    requests: int = 0
    errors: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)  # seconds, successful requests
    server_cpu: float = math.nan  # CPU seconds the server process used in the window
    client_cpu: float = math.nan  # CPU seconds this (load generator) process used
    first_error: str = ""

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds if self.seconds > 0 else math.nan

    @property
    def p50_ms(self) -> float:
        return percentile(self.latencies, 50) * 1000

    @property
    def p99_ms(self) -> float:
        return percentile(self.latencies, 99) * 1000

    @property
    def server_cpu_ms_per_request(self) -> float:
        return self.server_cpu / self.requests * 1000 if self.requests else math.nan


def graphql_body(query: str, variables: dict[str, object] | None = None) -> bytes:
    body: dict[str, object] = {"query": query}
    if variables is not None:
        body["variables"] = variables
    return json.dumps(body).encode()


def no_graphql_errors(response: httpx.Response) -> bool:
    """200 with no top-level `errors` (cheap: no field we query is named so)."""
    return response.status_code == 200 and b'"errors"' not in response.content


async def closed_loop(
    url: str,
    make_body: MakeBody,
    headers: dict[str, str],
    *,
    concurrency: int,
    duration: float,
    warmup: float,
    server: Process | None = None,
    check: Check = no_graphql_errors,
    max_requests: int | None = None,
    request_timeout: float = 120.0,
) -> LoadResult:
    result = LoadResult()
    headers = {"content-type": "application/json", **headers}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    counter = 0
    measuring = False
    stop_at = math.inf

    async with httpx.AsyncClient(limits=limits, timeout=request_timeout) as client:

        async def worker(index: int) -> None:
            # Each worker also finishes one request started inside the window, so
            # requests slower than the window still give a figure.
            nonlocal counter
            counted_one = False
            while time.perf_counter() < stop_at or not counted_one:
                if max_requests is not None and measuring and result.requests + result.errors >= max_requests:
                    return
                counter += 1
                body = make_body(index, counter)
                counted = measuring
                started = time.perf_counter()
                try:
                    response = await client.post(url, content=body, headers=headers)
                    ok = check(response)
                    problem = "" if ok else f"HTTP {response.status_code}: {response.text[:300]}"
                except httpx.HTTPError as error:
                    ok, problem = False, f"{type(error).__name__}: {error}"
                elapsed = time.perf_counter() - started
                if not counted:
                    continue
                counted_one = True
                if ok:
                    result.requests += 1
                    result.latencies.append(elapsed)
                else:
                    result.errors += 1
                    result.first_error = result.first_error or problem

        stop_at = time.perf_counter() + warmup + duration + 3600
        tasks = [asyncio.create_task(worker(i)) for i in range(concurrency)]
        try:
            await asyncio.sleep(warmup)
            measuring = True
            cpu0 = server.cpu_seconds() if server is not None else math.nan
            client0 = time.process_time()
            started = time.perf_counter()
            stop_at = started + duration
            await asyncio.gather(*tasks)
            # Requests in flight at stop_at finish and count: the window is until the last one.
            result.seconds = time.perf_counter() - started
            result.server_cpu = (server.cpu_seconds() - cpu0) if server is not None else math.nan
            result.client_cpu = time.process_time() - client0
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
    return result


@contextlib.asynccontextmanager
async def profiling(server: Process | None, out_dir: Path | None, name: str) -> AsyncIterator[None]:
    """Profile `server` (started through bench.profiled) while the block runs."""
    if server is None or out_dir is None:
        yield
        return
    (out_dir / ".name").write_text(name)
    target = out_dir / f"{name}.txt"
    target.unlink(missing_ok=True)
    os.kill(server.pid, signal.SIGUSR1)
    await asyncio.sleep(0.2)
    try:
        yield
    finally:
        os.kill(server.pid, signal.SIGUSR2)
        deadline = time.monotonic() + 60
        while not target.exists() and time.monotonic() < deadline:  # noqa: ASYNC110 (another process)
            await asyncio.sleep(0.2)
