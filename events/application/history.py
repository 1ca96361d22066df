"""The list as it was: folds of the log up to a position or a time.

Folding a long log from the start on every request would be slow, so the
History keeps in-memory snapshots (the server list every SNAPSHOT_EVERY events),
built lazily as positions are asked for; a request then folds at most that many
events on top of the nearest snapshot. Events never change, so neither do
snapshots: there is nothing to invalidate."""

from __future__ import annotations

import asyncio
import bisect
import re
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from domain.state import Fold, ServerList
from events import store
from events.serialization import utc
from events.tables import events

BATCH = 5000
SNAPSHOT_EVERY = 1000
MAX_SNAPSHOTS = 2000
MAX_POSITION = 2**63 - 1
_DIGITS = re.compile(r"[0-9]{1,19}")


def parse_cursor(cursor: str) -> int | None:
    """A position from its opaque cursor string, or None when it is not one."""
    text = cursor.strip()
    if not _DIGITS.fullmatch(text):
        return None
    position = int(text)
    return position if position <= MAX_POSITION else None


class History:
    """The server list as it was at any position or time, folded from in-memory snapshots."""

    def __init__(self, engine: AsyncEngine, *, snapshot_every: int = SNAPSHOT_EVERY) -> None:
        self.engine = engine
        self.snapshot_every = snapshot_every
        # Sorted positions and the server list just after each; 0 is the empty list.
        self._positions: list[int] = [0]
        self._snapshots: list[ServerList] = [ServerList()]
        self._extending = asyncio.Lock()

    async def list_at(self, cursor: str) -> ServerList | None:
        """The list just after the event at `cursor`; None for an unknown position."""
        position = parse_cursor(cursor)
        if position is None:
            return None
        async with self.engine.connect() as conn:
            if not await store.exists(conn, position):
                return None
            return await self._at(conn, position)

    async def list_at_time(self, at: datetime) -> ServerList:
        """The list including every event with occurred_at <= at. Event times
        never go backwards along positions (see events.database.event_time),
        so these events are a prefix of the log."""
        async with self.engine.connect() as conn:
            query = sa.select(sa.func.max(events.c.position)).where(events.c.occurred_at <= utc(at))
            position = (await conn.execute(query)).scalar_one()
            return await self._at(conn, int(position or 0))

    async def _at(self, conn: AsyncConnection, position: int) -> ServerList:
        if position - self._positions[-1] > self.snapshot_every:
            async with self._extending:
                await self._extend(conn, position)
        index = bisect.bisect_right(self._positions, position) - 1
        fold = Fold(self._snapshots[index])
        for entry in await store.read(conn, after=self._positions[index], until=position):
            fold.apply(entry.event, entry.meta)
        return fold.freeze()

    async def _extend(self, conn: AsyncConnection, position: int) -> None:
        """Fold forward from the newest snapshot, keeping one every snapshot_every events."""
        after = self._positions[-1]
        fold = Fold(self._snapshots[-1])
        since = 0
        while after < position:
            batch = await store.read(conn, after=after, limit=BATCH, until=position)
            if not batch:
                return
            for entry in batch:
                fold.apply(entry.event, entry.meta)
                since += 1
                if since >= self.snapshot_every and len(self._positions) < MAX_SNAPSHOTS:
                    self._positions.append(entry.position)
                    self._snapshots.append(fold.freeze())
                    since = 0
            after = batch[-1].position
