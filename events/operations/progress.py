"""What the long operations tell their caller while they run, and how long the log is."""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from events.tables import events

# Called with how many events (or lines) are done so far; it must return quickly.
Progress = Callable[[int], None]


async def log_size(engine: AsyncEngine) -> int:
    """How many events the log holds (the total a progress bar counts towards)."""
    async with engine.connect() as conn:
        return int((await conn.execute(sa.select(sa.func.count()).select_from(events))).scalar_one())
