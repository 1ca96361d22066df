"""The asyncpg connection the PostgreSQL write path runs on.

Batches are written one at a time per instance, so one connection of the
service's own serves them all: no pool checkout and check-in around every
append, which cost the single writer more than its own Python did. Without
an own connection (tests and tools that share the engine) a pooled one is
borrowed per batch, as before."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import asyncpg
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from events.database import connect_outside_pool

WRITER_NAME = "mailreg writer"
"""The write connection's application_name, so that operators can tell it apart in pg_stat_activity."""


class WriterConnection:
    """Hands out the connection for one batch; see the module."""

    def __init__(self, engine: AsyncEngine, *, own: bool) -> None:
        self.engine = engine
        self._own = own
        self._conn: asyncpg.Connection | None = None
        self._borrowed: AsyncConnection | None = None

    @contextlib.asynccontextmanager
    async def use(self) -> AsyncIterator[asyncpg.Connection]:
        """A connection that was open when handed out. The own connection is
        dropped after a failure that may have left it mid-way (a transaction
        cut short, a query still running after a cancellation or a timeout, a
        broken socket); errors the server answered leave it as good as new."""
        if not self._own:
            async with self.engine.connect() as outer:
                self._borrowed = outer
                try:
                    conn: asyncpg.Connection = (await outer.get_raw_connection()).driver_connection
                    if conn.is_closed():
                        raise asyncpg.InterfaceError("connection is closed")
                    yield conn
                finally:
                    self._borrowed = None
            return
        conn = self._conn
        if conn is None or conn.is_closed():
            # A server restart closes the socket, which asyncpg notices at once: a
            # closed connection is replaced here, before anything is sent on it.
            conn = self._conn = await connect_outside_pool(self.engine, WRITER_NAME)
        try:
            yield conn
        except BaseException as error:
            if not _harmless(error) or conn.is_closed() or conn.is_in_transaction():
                await self.discard()
            raise

    async def discard(self) -> None:
        """Throw away the connection in use: the next batch gets a fresh one."""
        if not self._own:
            if self._borrowed is not None:
                await self._borrowed.invalidate()
            return
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.terminate()

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.close(timeout=5)


def _harmless(error: BaseException) -> bool:
    return isinstance(error, Exception) and not isinstance(
        error, (TimeoutError, OSError, asyncpg.InterfaceError, asyncpg.PostgresConnectionError)
    )
