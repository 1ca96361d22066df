"""Fixtures of the backend-agnostic suite. A test class names its backend in
`backend`; its tests share one migrated database (`engine`) and use random ids,
while tests that need an empty log ask for `fresh_engine`."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.integration.backends import Backend, Databases
from tests.integration.play import Played, play

HISTORY_COMMANDS = 200


@pytest.fixture(scope="class")
def backend(request: pytest.FixtureRequest) -> Backend:
    chosen: Backend = request.cls.backend
    return chosen


@pytest.fixture(scope="class")
async def class_databases(backend: Backend, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Databases]:
    databases = Databases(backend, tmp_path_factory.mktemp(backend.name))
    yield databases
    await databases.close()


@pytest.fixture(scope="class")
async def engine(class_databases: Databases) -> AsyncEngine:
    """One migrated database shared by the class's tests."""
    return await class_databases.fresh_engine()


@pytest.fixture
async def databases(backend: Backend, tmp_path: Path) -> AsyncIterator[Databases]:
    """More engines (other API instances) and fresh databases for one test."""
    opened = Databases(backend, tmp_path)
    yield opened
    await opened.close()


@pytest.fixture
async def fresh_engine(databases: Databases) -> AsyncEngine:
    return await databases.fresh_engine()


@pytest.fixture(scope="class")
async def played(class_databases: Databases) -> Played:
    """A long seeded random history on its own database, played once per class."""
    return await play(await class_databases.fresh_engine(), random.Random(20250101), HISTORY_COMMANDS)


@pytest.fixture
async def short(fresh_engine: AsyncEngine) -> Played:
    """A short random history on a database of its own, for tests that change it."""
    return await play(fresh_engine, random.Random(7), 70)
