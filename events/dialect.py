"""Everything that differs between PostgreSQL and the embedded SQLite store, in one place."""

from __future__ import annotations

from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from events.store import CHANNEL

WRITE = "mailreg_write"
"""The execution option that marks a connection as the log's writer."""


class Dialect:
    """One backend's way of doing what the store needs; chosen once per engine by `dialect_of`."""

    name = ""
    listens = False
    """Whether other instances' appends can wake this one (LISTEN/NOTIFY)."""
    one_call_append = False
    """Whether a whole batch is appended by one call of mailreg_append (migration 0005)."""

    def create_engine(self, url: str) -> AsyncEngine:
        """An engine tuned for our use: fail fast when the database is away."""
        raise NotImplementedError

    def write_options(self) -> dict[str, Any]:
        """Execution options of a connection that is about to take the write lock."""
        return {}

    def read_options(self) -> dict[str, Any]:
        """Execution options of a connection that reads one consistent view."""
        return {}

    def lock(self, query: sa.Select[Any]) -> sa.Select[Any]:
        """`query`, locking the rows it reads until commit where the backend needs that."""
        return query

    def notify(self, update: sa.Update, position: int) -> sa.Update:
        """`update`, also waking every instance's feed in the same round trip where it can."""
        return update

    async def move_identity_past(self, conn: AsyncConnection, position: int) -> None:
        """Make later appends draw positions above `position` after positions were given, not drawn."""


class PostgreSQL(Dialect):
    """PostgreSQL through asyncpg: row locks, REPEATABLE READ, LISTEN/NOTIFY, a sequence."""

    name = "postgresql"
    listens = True
    one_call_append = True

    def create_engine(self, url: str) -> AsyncEngine:
        engine = create_async_engine(
            url,
            pool_size=10,
            max_overflow=20,
            pool_timeout=5,
            pool_recycle=1800,
            connect_args={"timeout": 5, "command_timeout": 10},
            # Payloads are read by the hundred for audit pages: orjson decodes them several times faster.
            json_deserializer=orjson.loads,
        )

        # Instead of a ping round trip on every checkout: asyncpg learns of a
        # connection the server closed (a restart, a crash) as soon as the socket
        # says so, and the pool then replaces it before anyone uses it.
        @event.listens_for(engine.sync_engine, "checkout")
        def _checkout(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
            if dbapi_connection.driver_connection.is_closed():
                raise DisconnectionError()

        return engine

    def read_options(self) -> dict[str, Any]:
        return {"isolation_level": "REPEATABLE READ"}

    def lock(self, query: sa.Select[Any]) -> sa.Select[Any]:
        return query.with_for_update()

    def notify(self, update: sa.Update, position: int) -> sa.Update:
        return update.returning(sa.func.pg_notify(CHANNEL, str(position)))

    async def move_identity_past(self, conn: AsyncConnection, position: int) -> None:
        await conn.execute(
            sa.text("SELECT setval(pg_get_serial_sequence('events', 'position'), :last)"), {"last": position}
        )


class SQLite(Dialect):
    """SQLite through aiosqlite: one writer by BEGIN IMMEDIATE, WAL, AUTOINCREMENT positions."""

    name = "sqlite"

    def create_engine(self, url: str) -> AsyncEngine:
        engine = create_async_engine(url, connect_args={"timeout": 10}, json_deserializer=orjson.loads)
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
            immediate = connection.get_execution_options().get(WRITE)
            connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

        return engine

    def write_options(self) -> dict[str, Any]:
        return {WRITE: True}


_DIALECTS: dict[str, Dialect] = {dialect.name: dialect for dialect in (PostgreSQL(), SQLite())}


def dialect_of(bind: AsyncEngine | AsyncConnection) -> Dialect:
    """The backend behind an engine or a connection."""
    return _DIALECTS[bind.dialect.name]


def dialect_for_url(url: str) -> Dialect:
    """The backend a database URL names."""
    return _DIALECTS["sqlite" if url.startswith("sqlite") else "postgresql"]
