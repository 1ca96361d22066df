"""The databases the suite runs against: a new database per request, dropped afterwards."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncEngine

from events.database import create_engine
from events.migrate import upgrade
from tests.support import create_pg_database, drop_pg_database


class Backend(Protocol):
    name: str

    async def create(self, folder: Path) -> str: ...

    async def drop(self, url: str) -> None: ...


class Postgres:
    name = "postgres"

    async def create(self, folder: Path) -> str:
        return await create_pg_database()

    async def drop(self, url: str) -> None:
        await drop_pg_database(url)


class Sqlite:
    name = "sqlite"

    async def create(self, folder: Path) -> str:
        return f"sqlite+aiosqlite:///{folder / f'{uuid.uuid4().hex[:12]}.db'}"

    async def drop(self, url: str) -> None:
        pass


def url_of(engine: AsyncEngine) -> str:
    return engine.url.render_as_string(hide_password=False)


class Databases:
    """Creates databases and engines for one scope; `close` disposes every
    engine first, then drops the databases it created."""

    def __init__(self, backend: Backend, folder: Path) -> None:
        self.backend = backend
        self.folder = folder
        self.created: list[str] = []
        self.engines: list[AsyncEngine] = []

    def open(self, url: str) -> AsyncEngine:
        """Another engine on `url`: what a second API instance would hold."""
        engine = create_engine(url)
        self.engines.append(engine)
        return engine

    async def fresh_engine(self) -> AsyncEngine:
        """An engine on a new, migrated database."""
        url = await self.backend.create(self.folder)
        self.created.append(url)
        engine = self.open(url)
        await upgrade(engine)
        return engine

    async def close(self) -> None:
        for engine in self.engines:
            await engine.dispose()
        for url in self.created:
            await self.backend.drop(url)
