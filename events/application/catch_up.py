"""Bringing a kept server list up to the log's end by folding only the events it has not seen."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from domain.state import Fold, ServerList
from events import projections, store
from events.database import read_transaction

MAX_FOLDED = 1000
"""Further behind than this, reading the whole read model is cheaper than folding the log."""


async def caught_up(engine: AsyncEngine, kept: tuple[int, ServerList] | None) -> tuple[int, ServerList]:
    """The list at the newest committed position: `kept` (a list at some position) with the
    events after it folded in, or the read model itself when nothing is kept or it lags far behind.

    Servers the events did not touch stay the same objects, so whatever was derived
    from them (serialized parts of a response) can be reused."""
    async with read_transaction(engine) as conn:
        position, list_version = await projections.checkpoint(conn)
        if kept is not None and kept[0] == position:
            return kept
        if kept is not None and 0 < position - kept[0] <= MAX_FOLDED:
            fold = Fold(kept[1])
            for entry in await store.read(conn, after=kept[0], until=position):
                fold.apply(entry.event, entry.meta)
            folded = fold.freeze()
            # The read model's own list version is the check that nothing was missed.
            if folded.list_version == list_version:
                return position, folded
        return await projections.load_list(conn)
