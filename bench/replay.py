"""Rebuilding the read model from the whole log, and its ceiling: a raw keyset
read of the same rows with JSON decoding."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg

from bench.infra import Database, server_env

REPORT = re.compile(r"replayed (\d+) events into (\d+) servers .* in ([0-9.]+)s")
KEYSET_BATCH = 10_000


@dataclass(frozen=True, slots=True)
class RebuildResult:
    events: int
    servers: int
    seconds: float  # as the command reports it (the rebuild itself)
    wall_seconds: float  # the whole command, interpreter start included

    @property
    def per_second(self) -> float:
        return self.events / self.seconds


def rebuild_cli(database: Database, secret: str, workdir: Path) -> RebuildResult:
    """`mailreg rebuild-projections`, as an operator runs it."""
    env = server_env(database.url, secret, workdir)
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "api", "rebuild-projections"],
        env=env,
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=3600,
    )
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"rebuild-projections failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    match = REPORT.search(done.stdout)
    if match is None:
        raise RuntimeError(f"unexpected rebuild-projections output: {done.stdout!r}")
    return RebuildResult(int(match[1]), int(match[2]), float(match[3]), wall)


async def rebuild_in_process(database: Database, profiler: Any = None) -> RebuildResult:
    """events.operations.rebuild.rebuild in this process (used to set up, or under a profiler)."""
    from events.database import create_engine
    from events.operations.rebuild import rebuild

    engine = create_engine(database.url)
    try:
        started = time.perf_counter()
        if profiler is not None:
            profiler.start()
        report = await rebuild(engine)
        if profiler is not None:
            profiler.stop()
        return RebuildResult(report.events, report.servers, report.seconds, time.perf_counter() - started)
    finally:
        await engine.dispose()


async def keyset_ceiling(database: Database) -> tuple[int, float]:
    """Every event row, oldest first, in keyset pages of 10,000 on one
    connection, with the JSON payload decoded: (rows, seconds)."""
    conn = await asyncpg.connect(database.dsn)
    try:
        query = await conn.prepare(
            "SELECT position, stream_id, stream_version, type, schema_version, data, actor, correlation_id, "
            "occurred_at FROM events WHERE position > $1 ORDER BY position LIMIT $2"
        )
        after, count, started = 0, 0, time.perf_counter()
        loads = json.loads
        while rows := await query.fetch(after, KEYSET_BATCH):
            for row in rows:
                loads(row[5])
            after, count = rows[-1][0], count + len(rows)
        return count, time.perf_counter() - started
    finally:
        await conn.close()
