"""Persisted snapshots of the folded list, one every SNAPSHOT_EVERY positions.

Interval k holds positions k*every to k*every + every - 1; its snapshot is the
list just after its last event, written once an event of a later interval
exists (positions only grow, so it can no longer change). A position's own
interval holds at most `every` events, so a view folds at most that many on
top of a snapshot. A snapshot is used only when its checksum, its payload and the event
it names all check out; otherwise it is deleted and written again from the log."""

from __future__ import annotations

import hashlib
import logging
import os
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from events.payload_fold import PayloadFold
from events.payloads import StoredRow, read_rows
from events.tables import events, history_snapshots

SNAPSHOT_EVERY = 1000
BATCH = 5000
log = logging.getLogger("mailreg.snapshots")


def interval() -> int:
    """Positions per snapshot: MAILREG_SNAPSHOT_EVERY, or SNAPSHOT_EVERY. Every
    instance and command of one deployment should agree (they still read
    correct lists when not, just from fewer shared snapshots)."""
    text = os.environ.get("MAILREG_SNAPSHOT_EVERY", "")
    try:
        value = int(text) if text else SNAPSHOT_EVERY
    except ValueError:
        raise ValueError(f"MAILREG_SNAPSHOT_EVERY must be a positive integer, not {text!r}") from None
    if value < 1:
        raise ValueError(f"MAILREG_SNAPSHOT_EVERY must be a positive integer, not {text!r}")
    return value


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A stored snapshot that checked out: the list just after `position`."""

    position: int
    fold: PayloadFold


def checksum(body: bytes) -> str:
    """The SHA-256 of a snapshot body, as stored beside it."""
    return hashlib.sha256(body).hexdigest()


def row_of(event: StoredRow, fold: PayloadFold) -> dict[str, object]:
    """The table row of the list `fold` just after `event`."""
    body = fold.encode()
    return {
        "position": event.position,
        "stream_id": event.stream_id,
        "stream_version": event.stream_version,
        "list_version": fold.list_version,
        "checksum": checksum(body),
        "payload": zlib.compress(body, 1),
    }


async def positions(conn: AsyncConnection, since: int = 0) -> set[int]:
    """The positions of the stored snapshots from `since` on."""
    query = sa.select(history_snapshots.c.position).where(history_snapshots.c.position >= since)
    return set((await conn.execute(query)).scalars())


async def insert(engine: AsyncEngine, rows: list[dict[str, object]]) -> None:
    """Store snapshots in their own transaction; one another process stored first is left as it is."""
    if not rows:
        return
    try:
        await _insert(engine, rows)
    except IntegrityError:
        for row in rows:
            try:
                await _insert(engine, [row])
            except IntegrityError:
                pass  # the same snapshot, written by another instance


async def _insert(engine: AsyncEngine, rows: list[dict[str, object]]) -> None:
    async with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            # A snapshot lost in a crash is only written again: no need to wait for the WAL flush.
            await conn.execute(sa.text("SET LOCAL synchronous_commit = off"))
        await conn.execute(history_snapshots.insert(), rows)


async def discard(engine: AsyncEngine, position: int, why: str) -> None:
    """Delete an untrusted snapshot (with a warning), so that it is written again."""
    log.warning("snapshot at position %s is not trusted (%s): deleted, to be written again", position, why)
    async with engine.begin() as conn:
        await conn.execute(history_snapshots.delete().where(history_snapshots.c.position == position))


async def nearest(conn: AsyncConnection, engine: AsyncEngine, position: int) -> Snapshot | None:
    """The newest sound snapshot at or below `position`; unsound ones met on the way are deleted."""
    while True:
        query = (
            sa.select(history_snapshots)
            .where(history_snapshots.c.position <= position)
            .order_by(history_snapshots.c.position.desc())
            .limit(1)
        )
        row = (await conn.execute(query)).first()
        if row is None:
            return None
        problem, fold = await _verify(conn, row)
        if fold is not None:
            return Snapshot(int(row.position), fold)
        await conn.rollback()  # end the read before deleting (SQLite would otherwise wait on itself)
        await discard(engine, int(row.position), problem)
        position = int(row.position) - 1


async def _verify(conn: AsyncConnection, row: sa.Row[object]) -> tuple[str, PayloadFold | None]:
    event = (
        await conn.execute(
            sa.select(events.c.stream_id, events.c.stream_version).where(events.c.position == row.position)
        )
    ).first()
    if event is None:
        return "no event at its position", None
    if (event.stream_id, event.stream_version) != (row.stream_id, row.stream_version):
        return "it names another event than the log holds there", None
    try:
        body = zlib.decompress(row.payload)
    except zlib.error as error:
        return f"unreadable payload ({error})", None
    if checksum(body) != row.checksum:
        return "checksum mismatch", None
    try:
        fold = PayloadFold.decode(body)
    except ValueError as error:
        return str(error), None
    if fold.list_version != row.list_version:
        return "list version mismatch", None
    return "", fold


class Recorder:
    """Feeds a fold event by event and collects the snapshot rows it passes."""

    def __init__(self, every: int, fold: PayloadFold, known: set[int]) -> None:
        self.every = every
        self.fold = fold
        self.known = known
        self.rows: list[dict[str, object]] = []
        self._last: StoredRow | None = None

    def feed(self, row: StoredRow) -> None:
        """Fold one event; first keep the snapshot of the interval it leaves, if missing."""
        last = self._last
        if last is not None and row.position // self.every > last.position // self.every:
            if last.position not in self.known:
                self.rows.append(row_of(last, self.fold))
                self.known.add(last.position)
        self.fold.apply(row.type, row.schema_version, row.data, row.stream_version, row.occurred_at)
        self._last = row


async def backfill(
    engine: AsyncEngine,
    every: int | None = None,
    *,
    since: int = 0,
    step: int = BATCH,
    pause: Callable[[], Awaitable[None]] | None = None,
) -> tuple[int, int]:
    """Write every missing snapshot of positions from `since` on, folding from
    the snapshot before each gap. Returns (how many were written, the position
    from which intervals were still incomplete: the next call's `since`).
    `pause` runs between steps of `step` events (a background writer yields there)."""
    every = every or interval()
    written = 0
    async with engine.connect() as conn:
        known = await positions(conn, since)
        last = int((await conn.execute(sa.select(sa.func.coalesce(sa.func.max(events.c.position), 0)))).scalar_one())
        through = (last // every) * every
        ends = await _interval_ends(conn, every, since, through)
    missing = sorted(set(ends) - known)
    while missing:
        target = missing[0]
        async with engine.connect() as conn:
            base = await nearest(conn, engine, target)
        after, fold = (base.position, base.fold.copy()) if base is not None else (0, PayloadFold())
        known.add(after)  # e.g. written by another instance since the gaps were listed
        recorder = Recorder(every, fold, known)
        done = False
        while not done:
            async with engine.connect() as conn:
                batch = await read_rows(conn, after=after, limit=step)
            if not batch:
                break
            for row in batch:
                recorder.feed(row)
                if row.position // every > target // every:
                    done = True
                    break
            after = batch[-1].position
            if recorder.rows:
                await insert(engine, recorder.rows)
                written += len(recorder.rows)
                recorder.rows = []
            if pause is not None:
                await pause()
        missing = [m for m in missing if m not in known]
        if missing and missing[0] == target:
            raise RuntimeError(f"the snapshot at {target} could not be written")
    return written, through


async def _interval_ends(conn: AsyncConnection, every: int, since: int, through: int) -> list[int]:
    """The last position of every complete interval (one with an event beyond
    it) between `since` and `through`; interval k holds positions k*every .. k*every+every-1."""
    bucket = events.c.position // every
    query = (
        sa.select(sa.func.max(events.c.position))
        .where(events.c.position >= since, events.c.position < through)
        .group_by(bucket)
    )
    return [int(p) for p in (await conn.execute(query)).scalars()]
