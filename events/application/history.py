"""The list as it was: folds of the log up to a position or a time.

A request folds at most `snapshot_every` events on top of the nearest
snapshot: one kept in memory, or one persisted in history_snapshots (see
events/snapshots.py; a background SnapshotWriter keeps those written). Events
never change, so neither do snapshots: there is nothing to invalidate."""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import logging
import re
from collections import OrderedDict
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from domain.state import ServerList
from events import snapshots, store
from events.payload_fold import PayloadFold
from events.payloads import read_rows
from events.serialization import utc
from events.tables import events

BATCH = 5000
KEEP = 32
MAX_POSITION = 2**63 - 1
_DIGITS = re.compile(r"[0-9]{1,19}")
log = logging.getLogger("mailreg.history")


def parse_cursor(cursor: str) -> int | None:
    """A position from its opaque cursor string, or None when it is not one."""
    text = cursor.strip()
    if not _DIGITS.fullmatch(text):
        return None
    position = int(text)
    return position if position <= MAX_POSITION else None


class History:
    """Point-in-time lists, folded from the nearest snapshot."""

    def __init__(self, engine: AsyncEngine, *, snapshot_every: int | None = None, keep: int = KEEP) -> None:
        self.engine = engine
        self.snapshot_every = snapshot_every or snapshots.interval()
        self.keep = keep
        # Folds kept in memory by position (least recently used first), and their positions sorted.
        self._folds: OrderedDict[int, PayloadFold] = OrderedDict({0: PayloadFold()})
        self._sorted: list[int] = [0]
        self.folded = 0
        """How many events lookups have folded on top of snapshots, all told."""

    async def list_at(self, cursor: str) -> ServerList | None:
        """The list just after the event at `cursor`; None for an unknown position."""
        fold = await self.fold_at(cursor)
        return None if fold is None else fold.server_list()

    async def list_at_time(self, at: datetime) -> ServerList:
        """The list including every event with occurred_at <= at."""
        return (await self.fold_at_time(at)).server_list()

    async def fold_at(self, cursor: str) -> PayloadFold | None:
        """list_at as a fold (cheaper when only read); None for an unknown position."""
        position = parse_cursor(cursor)
        if position is None:
            return None
        async with self.engine.connect() as conn:
            if not await store.exists(conn, position):
                return None
            return await self._at(conn, position)

    async def fold_at_time(self, at: datetime) -> PayloadFold:
        """list_at_time as a fold. Event times never go backwards along
        positions (see events.application.batch.event_time), so the events up to a time
        are a prefix of the log."""
        async with self.engine.connect() as conn:
            query = sa.select(sa.func.max(events.c.position)).where(events.c.occurred_at <= utc(at))
            position = (await conn.execute(query)).scalar_one()
            return await self._at(conn, int(position or 0))

    async def _at(self, conn: AsyncConnection, position: int) -> PayloadFold:
        after, base = self._nearest_in_memory(position)
        if position - after > self.snapshot_every:
            persisted = await snapshots.nearest(conn, self.engine, position)
            if persisted is not None and persisted.position > after:
                after, base = persisted.position, persisted.fold
                self._remember(after, base)
        fold = base.copy()
        every = self.snapshot_every
        while after < position:
            batch = await read_rows(conn, after=after, until=position, limit=BATCH)
            if not batch:
                break
            for row in batch:
                if row.position // every > after // every and position - after > every:
                    # A long way without snapshots (they are still being written): keep
                    # this interval's end in memory so the next request starts here.
                    self._remember(after, fold.copy())
                fold.apply(row.type, row.schema_version, row.data, row.stream_version, row.occurred_at)
                after = row.position
            self.folded += len(batch)
        return fold

    def _nearest_in_memory(self, position: int) -> tuple[int, PayloadFold]:
        index = bisect.bisect_right(self._sorted, position) - 1
        found = self._sorted[index]
        with contextlib.suppress(KeyError):
            self._folds.move_to_end(found)
        return found, self._folds[found]

    def _remember(self, position: int, fold: PayloadFold) -> None:
        if position in self._folds:
            return
        self._folds[position] = fold
        bisect.insort(self._sorted, position)
        while len(self._folds) > self.keep:
            oldest, _ = next(iter(self._folds.items()))
            if oldest == 0:
                self._folds.move_to_end(0)
                continue
            del self._folds[oldest]
            self._sorted.remove(oldest)


class SnapshotWriter:
    """Keeps history_snapshots written, off the request path: it folds in
    small steps and sleeps between them, so requests always get their turn."""

    def __init__(self, engine: AsyncEngine, *, every: int | None = None, idle: float = 2.0) -> None:
        self.engine = engine
        self.every = every or snapshots.interval()
        self.idle = idle
        self._since = 0
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Start writing in the background."""
        self._task = asyncio.create_task(self._run(), name="snapshot-writer")

    async def stop(self) -> None:
        """Stop writing; a snapshot half folded is simply not written."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        rounds = 0
        while True:
            # First wait: right after a start the requests come first.
            await asyncio.sleep(self.idle)
            try:
                # Now and then look at the whole log again: a snapshot found damaged was deleted.
                since = 0 if rounds % 300 == 0 else self._since
                written, self._since = await snapshots.backfill(
                    self.engine, self.every, since=since, step=200, pause=_breathe
                )
                if written:
                    log.info("wrote %s history snapshots", written)
            except asyncio.CancelledError:
                raise
            except Exception:  # e.g. the database is away: try again later
                log.warning("writing history snapshots failed; retrying", exc_info=True)
            rounds += 1


async def _breathe() -> None:
    await asyncio.sleep(0.005)
