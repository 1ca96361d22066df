"""Engines and transactions over either backend; what differs between them is in events/dialect.py."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from events.dialect import dialect_for_url, dialect_of
from events.tables import SERVER_LIST, projection_state


def create_engine(url: str) -> AsyncEngine:
    """An engine tuned for our use: fail fast when the database is away."""
    return dialect_for_url(url).create_engine(url)


@asynccontextmanager
async def write_transaction(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A transaction that holds the log's write lock until it commits.

    Holding one lock from before positions are drawn until commit is what
    makes positions commit-ordered: no transaction can commit a lower
    position after a reader has seen a higher one."""
    dialect = dialect_of(engine)
    async with engine.connect() as conn:
        options = dialect.write_options()
        if options:
            conn = await conn.execution_options(**options)
        async with conn.begin():
            # Every writer updates the projection checkpoint row, so locking that
            # row is the log's write lock; reading it in the same round trip
            # saves the write path one statement. (SQLite: BEGIN IMMEDIATE.)
            query = dialect.lock(
                sa.select(
                    projection_state.c.position, projection_state.c.list_version, projection_state.c.last_occurred_at
                ).where(projection_state.c.name == SERVER_LIST)
            )
            row = (await conn.execute(query)).one()
            conn.info[CHECKPOINT] = (int(row.position), int(row.list_version))
            conn.info[LAST_OCCURRED_AT] = row.last_occurred_at
            yield conn


CHECKPOINT = "mailreg_checkpoint"
LAST_OCCURRED_AT = "mailreg_last_occurred_at"


def locked_checkpoint(conn: AsyncConnection) -> tuple[int, int]:
    """(position, list version) as read when write_transaction took the lock."""
    value: tuple[int, int] = conn.info[CHECKPOINT]
    return value


@asynccontextmanager
async def read_transaction(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """One consistent view of the database across several statements."""
    options = dialect_of(engine).read_options()
    async with engine.connect() as conn:
        if options:
            conn = await conn.execution_options(**options)
        async with conn.begin():
            yield conn


async def connect_outside_pool(
    engine: AsyncEngine, name: str, *, command_timeout: float | None = 10
) -> asyncpg.Connection:
    """A raw asyncpg connection to the engine's database, outside its pool, named
    `name` in pg_stat_activity so that operators can tell our connections apart.
    It fails fast when the database is away, as the engine's own connections do."""
    dsn = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    connection: asyncpg.Connection = await asyncpg.connect(
        dsn, timeout=5, command_timeout=command_timeout, server_settings={"application_name": name}
    )
    return connection
