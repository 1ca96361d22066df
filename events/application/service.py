"""The write path (group commit: queue, decide, append, project, remember) and
the cached read path, both over one engine."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

import asyncpg
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.commands import Command
from domain.events import AllServersDeleted, EventMeta
from domain.state import Fold
from events import projections
from events.application import append
from events.application.append import StaleError
from events.application.batch import CurrentList, KeyRef, Outcome, Pending, Plan, Request, Respond, plan
from events.application.catch_up import caught_up
from events.application.checkpoint import Checkpoint
from events.application.writer import WriterConnection
from events.database import LAST_OCCURRED_AT, locked_checkpoint, read_transaction, write_transaction
from events.dialect import dialect_of
from events.store import RecordedEvent

__all__ = ["CurrentList", "MailServerService", "Outcome", "Request", "Respond"]

# Each failed attempt means another writer committed meanwhile, so the log
# moves on; the bound only stops a bug from looping for ever.
_ATTEMPTS = 50
# Further behind than this, reading the read model beats folding the log.
_CATCH_UP_LIMIT = 1000


class BatchInterruptedError(RuntimeError):
    """The transaction of the batch this command was in was cut short."""


class MailServerService:
    """Runs commands against the log and serves the current list.

    Commands that arrive while a batch is being written wait in a queue; the
    next batch takes them all, decides them one after another and commits them
    in one transaction (group commit). Each keeps its own outcome."""

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        on_commit: Callable[[Sequence[RecordedEvent]], None] | None = None,
        own_connection: bool = False,
    ):
        """With `own_connection` (PostgreSQL), checkpoint reads and writes each run on an
        asyncpg connection of the service's own instead of the engine's pool; `close` closes them."""
        self.engine = engine
        self._postgres = dialect_of(engine).one_call_append
        self._write_lock = asyncio.Lock()
        self._queue: list[Pending] = []
        self._current: CurrentList | None = None
        # The newest version of streams that are not live servers (deleted
        # servers, the list stream); a miss is taken as a new stream and
        # corrected by the unique key on (stream_id, stream_version).
        self._versions: dict[str, int] = {}
        self._on_commit = on_commit
        self.checkpoint = Checkpoint(engine, own_connection=own_connection)
        self._writer = WriterConnection(engine, own=own_connection and self._postgres)
        self._catching_up = asyncio.Lock()

    async def current(self) -> CurrentList:
        """The list as of the newest committed event (reads its own writes,
        and other instances' writes, by checking the projection's position)."""
        return await self.current_since(await self.checkpoint.position())

    async def current_since(self, position: int) -> CurrentList:
        """The current list at `position` or later (a position read after the request arrived)."""
        kept = self._current
        if kept is not None and kept.position >= position:
            return kept
        async with self._catching_up:  # one catch-up at a time; the others reuse its result
            kept = self._current
            if kept is not None and kept.position >= position:
                return kept
            state = (kept.position, kept.server_list, kept.last_occurred_at) if kept else None
            current = CurrentList(*await caught_up(self.engine, state))
            self._remember(current)
            return current

    async def close(self) -> None:
        """Release the connections of our own (checkpoint reads, writes)."""
        await self.checkpoint.close()
        await self._writer.close()

    async def _load(self) -> CurrentList:
        async with read_transaction(self.engine) as conn:
            current = CurrentList(*await projections.load_state(conn))
        self._remember(current)
        return current

    def _remember(self, current: CurrentList) -> None:
        if self._current is None or current.position >= self._current.position:
            self._current = current

    async def execute(self, command: Command, request: Request, respond: Respond) -> Outcome:
        """Decide and append in one transaction. A rejected command raises its
        MailServerError and leaves no trace, not even its idempotency key."""
        pending = Pending(command, request, respond, asyncio.get_running_loop().create_future())
        self._queue.append(pending)
        async with self._write_lock:
            if not pending.future.done():
                await self._commit(self._take_queue())
        try:
            return pending.future.result()
        finally:
            # A rejection raised here gets this frame in its traceback, and the
            # frame holds the future that holds the rejection (a cycle that only
            # the cyclic collector would free): drop the link.
            del pending

    def _take_queue(self) -> list[Pending]:
        batch, self._queue = self._queue, []
        return batch

    async def _commit(self, batch: list[Pending]) -> None:
        try:
            for attempt in range(_ATTEMPTS):
                try:
                    if self._postgres:
                        written = await self._commit_postgres(batch, locked=attempt > 0)
                    else:
                        written = await self._commit_sql(batch)
                except StaleError:
                    continue
                self._finish(*written)
                return
            raise RuntimeError(f"no commit after {_ATTEMPTS} attempts")
        except BaseException as error:
            failure = error if isinstance(error, Exception) else BatchInterruptedError()
            for pending in batch:
                if not pending.future.done():
                    pending.future.set_exception(failure)
            if failure is not error:
                raise

    async def _commit_postgres(self, batch: list[Pending], *, locked: bool) -> tuple[Plan, list[int]]:
        """First optimistically, in one round trip, on the state this instance
        knows; after that was stale (another instance wrote), under the lock,
        catching up from the log, so that the retry cannot be overtaken."""
        refs = [ref for p in batch if (ref := p.request.key_ref) is not None]
        for retry in (True, False):
            async with self._writer.use() as conn:
                try:
                    if locked:
                        return await self._commit_locked(conn, batch, refs)
                    current = self._current or await self._load()
                    # Keys are looked up only when a keyed command was refused: an
                    # accepted one stores its key, and a key stored before makes
                    # that insert fail (StaleError), so the locked retry replays it.
                    decided = plan(batch, current, {}, self._versions)
                    if any(item.error is not None and item.pending.request.key_ref for item in decided.decided):
                        stored = await append.stored_keys_postgres(conn, refs)
                        decided = plan(batch, current, stored, self._versions)
                except (OSError, asyncpg.PostgresConnectionError, asyncpg.InterfaceError):
                    if not retry or locked:
                        raise
                    # Nothing was written yet: safe to go again on a fresh connection.
                    await self._writer.discard()
                    continue
                except StaleError as stale:
                    await self._learn_versions(conn, stale)
                    raise
                try:
                    return decided, await append.commit_postgres(conn, decided)
                except StaleError as stale:
                    await self._learn_versions(conn, stale)
                    raise
        raise AssertionError("unreachable")

    async def _commit_locked(
        self, conn: asyncpg.Connection, batch: list[Pending], refs: list[KeyRef]
    ) -> tuple[Plan, list[int]]:
        async with conn.transaction():
            current = await self._catch_up(conn, await append.lock_postgres(conn))
            stored = await append.stored_keys_postgres(conn, refs)
            decided = plan(batch, current, stored, self._versions)
            return decided, await append.commit_postgres(conn, decided)

    async def _catch_up(self, conn: asyncpg.Connection, position: int) -> CurrentList:
        """The state at `position`, which the caller holds the lock on: the
        current plus the events since, or the read model when far behind."""
        current = self._current
        if current is not None and current.position == position:
            return current
        if current is None or not 0 < position - current.position <= _CATCH_UP_LIMIT:
            return await self._load()
        fold, last = Fold(current.server_list), current.last_occurred_at
        for stream, version, event, occurred_at in await append.events_between(conn, current.position, position):
            if isinstance(event, AllServersDeleted):
                self._versions.update({i: fold.servers[i].version for i in event.server_ids if i in fold.servers})
            fold.apply(event, EventMeta(stream_version=version, occurred_at=occurred_at))
            if stream not in fold.servers:
                self._versions[stream] = version
            last = occurred_at
        caught = CurrentList(position, fold.freeze(), last)
        self._remember(caught)
        return caught

    async def _learn_versions(self, conn: asyncpg.Connection, stale: StaleError) -> None:
        if stale.streams:
            self._versions.update(await append.versions_postgres(conn, stale.streams))

    async def _commit_sql(self, batch: list[Pending]) -> tuple[Plan, list[int]]:
        refs = [ref for p in batch if (ref := p.request.key_ref) is not None]
        try:
            async with write_transaction(self.engine) as conn:
                position, _ = locked_checkpoint(conn)
                current = self._current
                if current is None or current.position != position:
                    loaded = await projections.load_list(conn)
                    current = CurrentList(*loaded, conn.info[LAST_OCCURRED_AT])
                stored = await append.stored_keys_sql(conn, refs)
                decided = plan(batch, current, stored, self._versions)
                return decided, await append.commit_sql(conn, decided)
        except StaleError:
            async with self.engine.connect() as conn:
                self._versions.update(await append.versions_sql(conn, append.unknown_streams(decided)))
            raise

    def _finish(self, decided: Plan, positions: list[int]) -> None:
        self._versions = decided.new_versions
        if positions:
            self._remember(CurrentList(positions[-1], decided.after, decided.occurred_at))
        results, recorded = decided.outcomes(positions)
        for pending, result in results:
            if isinstance(result, Outcome):
                pending.future.set_result(result)
            else:
                pending.future.set_exception(result)
        if recorded and self._on_commit is not None:
            self._on_commit(recorded)
