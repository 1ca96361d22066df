"""Engine set-up for PostgreSQL (asyncpg) and the embedded SQLite default (aiosqlite)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from events.tables import SERVER_LIST, projection_state

_WRITE = "mailreg_write"


def create_engine(url: str) -> AsyncEngine:
    """An engine tuned for our use: fail fast when the database is away."""
    if url.startswith("sqlite"):
        engine = create_async_engine(url, connect_args={"timeout": 10})
        _sqlite_transactions(engine)
        return engine
    engine = create_async_engine(
        url,
        pool_size=10,
        max_overflow=20,
        pool_timeout=5,
        pool_recycle=1800,
        connect_args={"timeout": 5, "command_timeout": 10},
    )
    _discard_closed(engine)
    return engine


def _discard_closed(engine: AsyncEngine) -> None:
    # Instead of a ping round trip on every checkout: asyncpg learns of a
    # connection the server closed (a restart, a crash) as soon as the socket
    # says so, and the pool then replaces it before anyone uses it.
    @event.listens_for(engine.sync_engine, "checkout")
    def _checkout(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        if dbapi_connection.driver_connection.is_closed():
            raise DisconnectionError()


def _sqlite_transactions(engine: AsyncEngine) -> None:
    # pysqlite's own transaction handling defers BEGIN and cannot take the write
    # lock up front; we issue BEGIN ourselves so writers start IMMEDIATE.
    @event.listens_for(engine.sync_engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _begin(connection: sa.Connection) -> None:
        immediate = connection.get_execution_options().get(_WRITE)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def is_sqlite(engine: AsyncEngine) -> bool:
    return engine.dialect.name == "sqlite"


@asynccontextmanager
async def write_transaction(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A transaction that holds the log's write lock until it commits.

    Holding one lock from before positions are drawn until commit is what
    makes positions commit-ordered: no transaction can commit a lower
    position after a reader has seen a higher one."""
    async with engine.connect() as conn:
        if is_sqlite(engine):
            conn = await conn.execution_options(**{_WRITE: True})
        async with conn.begin():
            # Every writer updates the projection checkpoint row, so locking that
            # row is the log's write lock; reading it in the same round trip
            # saves the write path one statement. (SQLite: BEGIN IMMEDIATE.)
            query = sa.select(
                projection_state.c.position, projection_state.c.list_version, projection_state.c.last_occurred_at
            ).where(projection_state.c.name == SERVER_LIST)
            if not is_sqlite(engine):
                query = query.with_for_update()
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
    """A consistent snapshot across several statements."""
    async with engine.connect() as conn:
        if not is_sqlite(engine):
            conn = await conn.execution_options(isolation_level="REPEATABLE READ")
        async with conn.begin():
            yield conn
