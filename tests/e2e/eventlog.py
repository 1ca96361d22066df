"""Looks at the `events` table with plain SQL, as an auditor would."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import sqlalchemy as sa

from events.database import create_engine

_COLUMNS = "position, stream_id, stream_version, type, actor, correlation_id"


class EventLog:
    def __init__(self, database_url: str) -> None:
        self.engine = create_engine(database_url)

    async def rows(self, after: int = 0) -> list[sa.Row[Any]]:
        query = sa.text(f"SELECT {_COLUMNS} FROM events WHERE position > :after ORDER BY position")
        async with self.engine.connect() as conn:
            return list((await conn.execute(query, {"after": after})).all())

    async def count(self) -> int:
        async with self.engine.connect() as conn:
            return int((await conn.execute(sa.text("SELECT count(*) FROM events"))).scalar_one())

    async def last_position(self) -> int:
        async with self.engine.connect() as conn:
            value = (await conn.execute(sa.text("SELECT max(position) FROM events"))).scalar_one()
            return int(value or 0)

    @asynccontextmanager
    async def appends(self, count: int) -> AsyncIterator[list[sa.Row[Any]]]:
        """Asserts that the block appends exactly `count` events; yields them afterwards."""
        before = await self.last_position()
        new: list[sa.Row[Any]] = []
        yield new
        new.extend(await self.rows(after=before))
        assert len(new) == count, [tuple(row) for row in new]

    def unchanged(self) -> Any:
        return self.appends(0)

    async def dispose(self) -> None:
        await self.engine.dispose()
