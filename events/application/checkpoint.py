"""The log's committed position, read cheaply and never stale.

A read must reflect every write acknowledged before it arrived, on any
instance, so its position has to come from a checkpoint read that *started*
after the request arrived. Requests that arrive while a read is under way
cannot use that one, but they can all share the next: at most one read runs
at a time and one more is queued, however many requests wait. Under load the
database is asked once per round trip, not once per request."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

import asyncpg
from sqlalchemy.ext.asyncio import AsyncEngine

from events import projections
from events.database import connect_outside_pool
from events.dialect import dialect_of
from events.tables import SERVER_LIST

ReadPosition = Callable[[], Awaitable[int]]


class SharedRead:
    """Coalesces concurrent calls of `read` into single flights, each started after its callers arrived."""

    def __init__(self, read: ReadPosition) -> None:
        self._read = read
        self._running: asyncio.Future[int] | None = None
        self._queued: asyncio.Future[int] | None = None

    async def __call__(self) -> int:
        """A value read by a call that started after this one was made."""
        if self._running is None:
            future = self._start()
        else:
            # The running read may have started before we arrived: wait for the next one.
            if self._queued is None:
                self._queued = asyncio.get_running_loop().create_future()
            future = self._queued
        return await asyncio.shield(future)

    def _start(self, future: asyncio.Future[int] | None = None) -> asyncio.Future[int]:
        running = future if future is not None else asyncio.get_running_loop().create_future()
        self._running = running
        task = asyncio.ensure_future(self._read())
        task.add_done_callback(self._finished)
        return running

    def _finished(self, task: asyncio.Future[int]) -> None:
        running, self._running = self._running, None
        if running is not None and not running.done():
            if task.cancelled():
                running.cancel()
            elif (error := task.exception()) is not None:
                running.set_exception(error)
            else:
                running.set_result(task.result())
            # Nobody may be waiting (a cancelled request); the outcome is not an error then.
            with contextlib.suppress(BaseException):
                running.exception()
        queued, self._queued = self._queued, None
        if queued is not None:
            self._start(queued)


_QUERY = "SELECT position FROM projection_state WHERE name = $1"
CHECKPOINT_NAME = "mailreg checkpoint"
"""The checkpoint connection's application_name, so that operators can tell it apart in pg_stat_activity."""


class Checkpoint:
    """The newest committed position of the log, from a shared read (see the module)."""

    def __init__(self, engine: AsyncEngine, *, own_connection: bool = False) -> None:
        """With `own_connection` (PostgreSQL only), reads use a raw asyncpg connection
        of their own, opened on first use and closed by `close`: one round trip, no pool."""
        self.engine = engine
        self._connection: asyncpg.Connection | None = None
        self._statement: asyncpg.prepared_stmt.PreparedStatement | None = None
        self._open_lock = asyncio.Lock()
        raw = own_connection and dialect_of(engine).listens
        self.position = SharedRead(self._read_raw if raw else self._read_engine)

    async def _read_engine(self) -> int:
        async with self.engine.connect() as conn:
            position, _ = await projections.checkpoint(conn)
        return position

    async def _read_raw(self) -> int:
        # A prepared statement on a bare connection: a pool's acquire and release would cost
        # twice the read itself, and reads never overlap (SharedRead), so one connection suffices.
        statement = self._statement
        if statement is None or self._connection is None or self._connection.is_closed():
            # A server restart closes the socket, which asyncpg notices at once: reconnect before sending.
            self._drop()
            statement = await self._open()
        try:
            value = await statement.fetchval(SERVER_LIST)
        except BaseException:
            self._drop()  # e.g. the server restarted: the next read connects again
            raise
        if value is None:
            raise RuntimeError("the projection checkpoint row is missing; run mailreg migrate")
        return int(value)

    async def _open(self) -> asyncpg.prepared_stmt.PreparedStatement:
        async with self._open_lock:
            if self._statement is None:
                connection = await connect_outside_pool(self.engine, CHECKPOINT_NAME)
                try:
                    self._statement = await connection.prepare(_QUERY)
                except BaseException:
                    connection.terminate()
                    raise
                self._connection = connection
            return self._statement

    def _drop(self) -> None:
        connection, self._connection, self._statement = self._connection, None, None
        if connection is not None:
            connection.terminate()

    async def close(self) -> None:
        """Close the connection of our own, if one was opened."""
        connection, self._connection, self._statement = self._connection, None, None
        if connection is not None:
            try:
                await asyncio.wait_for(connection.close(), timeout=5)
            except Exception:
                connection.terminate()
