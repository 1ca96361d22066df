"""Rebuild the read model from the whole log."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from events import projections, snapshots
from events.database import write_transaction
from events.operations.progress import Progress
from events.payload_fold import PayloadFold
from events.payloads import read_rows, stream_rows
from events.snapshots import Recorder

BATCH = 10000


@dataclass(frozen=True, slots=True)
class RebuildReport:
    """What a rebuild folded, and how long it took."""

    events: int
    servers: int
    list_version: int
    seconds: float


class _Writes:
    """Snapshot inserts run while the fold goes on, a few at a time."""

    IN_FLIGHT = 4

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.pending: list[asyncio.Task[None]] = []

    async def send(self, recorder: Recorder) -> None:
        if recorder.rows:
            self.pending = [task for task in self.pending if not task.done()]
            if len(self.pending) >= self.IN_FLIGHT:
                await self.pending.pop(0)
            self.pending.append(asyncio.ensure_future(snapshots.insert(self.engine, recorder.rows)))
            recorder.rows = []
            await asyncio.sleep(0)  # let it send its first statement

    async def wait(self) -> None:
        pending, self.pending = self.pending, []
        for outcome in await asyncio.gather(*pending, return_exceptions=True):
            if isinstance(outcome, BaseException):
                raise outcome


async def rebuild(
    engine: AsyncEngine, progress: Progress | None = None, *, snapshot_every: int | None = None
) -> RebuildReport:
    """Fold every event into a fresh server list, then swap it in under the write
    lock after catching up with whatever was appended meanwhile; `progress` hears
    how many events were folded so far after each batch. Writes the history
    snapshots that are missing on the way."""
    started = time.perf_counter()
    after, count, last_time = 0, 0, None
    writes = _Writes(engine)
    try:
        async with engine.connect() as conn:
            recorder = Recorder(snapshot_every or snapshots.interval(), PayloadFold(), await snapshots.positions(conn))
            async for batch in stream_rows(conn, after=after, batch=BATCH):
                for row in batch:
                    recorder.feed(row)
                after, count, last_time = batch[-1].position, count + len(batch), batch[-1].occurred_at
                if progress is not None:
                    progress(count)
                await writes.send(recorder)
        async with write_transaction(engine) as conn:
            while batch := await read_rows(conn, after=after, limit=BATCH):
                for row in batch:
                    recorder.feed(row)
                after, count, last_time = batch[-1].position, count + len(batch), batch[-1].occurred_at
            server_list = recorder.fold.server_list()
            await projections.replace_all(conn, server_list, after, last_time)
        await writes.send(recorder)
    finally:
        await writes.wait()
    return RebuildReport(count, len(server_list.order), server_list.list_version, time.perf_counter() - started)
