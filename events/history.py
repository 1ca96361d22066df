"""The list as it was: folds of the log up to a position or a time."""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncEngine

from domain.state import Fold, Registry
from events import store
from events.serialization import utc
from events.tables import events

BATCH = 5000
_DIGITS = re.compile(r"[0-9]{1,19}")


MAX_POSITION = 2**63 - 1


def parse_cursor(cursor: str) -> int | None:
    """A position from its opaque cursor string, or None when it is not one."""
    text = cursor.strip()
    if not _DIGITS.fullmatch(text):
        return None
    position = int(text)
    return position if position <= MAX_POSITION else None


class History:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def registry_at(self, cursor: str) -> Registry | None:
        """The list just after the event at `cursor`; None for an unknown position."""
        position = parse_cursor(cursor)
        if position is None:
            return None
        async with self.engine.connect() as conn:
            if not await store.exists(conn, position):
                return None
        return await self._fold(until=position)

    async def registry_at_time(self, at: datetime) -> Registry:
        """The list including every event with occurred_at <= at."""
        return await self._fold(occurred_until=utc(at))

    async def _fold(self, *, until: int | None = None, occurred_until: datetime | None = None) -> Registry:
        fold = Fold()
        after = 0
        where = [events.c.occurred_at <= occurred_until] if occurred_until is not None else []
        async with self.engine.connect() as conn:
            while True:
                batch = await store.read(conn, after=after, limit=BATCH, until=until, where=where)
                for entry in batch:
                    fold.apply(entry.event, entry.meta)
                if len(batch) < BATCH:
                    return fold.freeze()
                after = batch[-1].position
