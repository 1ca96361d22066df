"""Rebuild the read model from the whole log."""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from domain.state import Fold
from events import projections, store
from events.database import write_transaction
from events.operations.progress import Progress

BATCH = 10000


@dataclass(frozen=True, slots=True)
class RebuildReport:
    """What a rebuild folded, and how long it took."""

    events: int
    servers: int
    list_version: int
    seconds: float


async def rebuild(engine: AsyncEngine, progress: Progress | None = None) -> RebuildReport:
    """Fold every event into a fresh server_list, then swap it in under the write
    lock after catching up with whatever was appended meanwhile; `progress` hears
    how many events were folded so far after each batch."""
    started = time.perf_counter()
    fold, after, count, last_time = Fold(), 0, 0, None
    async with engine.connect() as conn:
        while batch := await store.read(conn, after=after, limit=BATCH):
            for entry in batch:
                fold.apply(entry.event, entry.meta)
            after, count, last_time = batch[-1].position, count + len(batch), batch[-1].occurred_at
            if progress is not None:
                progress(count)
    async with write_transaction(engine) as conn:
        for entry in await store.read(conn, after=after):
            fold.apply(entry.event, entry.meta)
            after, count, last_time = entry.position, count + 1, entry.occurred_at
        server_list = fold.freeze()
        await projections.replace_all(conn, server_list, after, last_time)
    return RebuildReport(count, len(server_list.order), server_list.list_version, time.perf_counter() - started)
