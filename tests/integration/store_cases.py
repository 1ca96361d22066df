"""The event store against a real database: round trips, one winner per race,
positions in commit order."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.events import Event, FieldChange, ServerChanged
from events import store
from events.database import write_transaction
from events.serialization import to_payload
from events.store import ConcurrencyError, RecordedEvent
from tests.integration.backends import Databases, url_of
from tests.integration.builders import metadata, new_id, server_added


def renamed(server_id: str, name: str) -> ServerChanged:
    return ServerChanged(
        server_id=server_id, changes=(FieldChange(field="name", before="Integration server", after=name),)
    )


async def append(engine: AsyncEngine, stream: str, expected: int | None, *events: Event) -> list[RecordedEvent]:
    async with write_transaction(engine) as conn:
        return await store.append(conn, stream, expected, events, metadata())


class StoreCases:
    positions_per_writer = 30

    async def test_appended_events_load_back_with_type_schema_version_payload_and_metadata(
        self, engine: AsyncEngine
    ) -> None:
        stream = new_id()
        added, changed = server_added(stream), renamed(stream, "Renamed")
        meta = metadata(datetime(2025, 3, 4, 5, 6, 7, 891011, tzinfo=UTC))
        async with write_transaction(engine) as conn:
            recorded = await store.append(conn, stream, 0, [added, changed], meta)
        async with engine.connect() as conn:
            loaded = await store.load(conn, stream)

        assert loaded == recorded
        assert [e.event for e in loaded] == [added, changed]
        assert [(e.type, e.schema_version, e.data) for e in loaded] == [to_payload(added), to_payload(changed)]
        assert [e.stream_version for e in loaded] == [1, 2]
        for entry in loaded:
            assert (entry.actor, entry.correlation_id) == (meta.actor, meta.correlation_id)
            assert entry.occurred_at == meta.occurred_at
            assert entry.occurred_at.utcoffset() == timedelta(0)
        assert loaded[0].position < loaded[1].position

    async def test_positions_strictly_increase_across_appends_and_streams(self, engine: AsyncEngine) -> None:
        first, second = new_id(), new_id()
        positions = []
        for stream in (first, second, first, second):
            for entry in await append(engine, stream, None, server_added(stream)):
                positions.append(entry.position)
        async with engine.connect() as conn:
            read = await store.read(conn, after=positions[0] - 1)

        assert positions == sorted(set(positions))
        assert [e.position for e in read if e.stream_id in (first, second)] == positions
        assert [e.stream_version for e in read if e.stream_id == first] == [1, 2]

    async def test_a_missing_correlation_id_loads_back_as_none(self, engine: AsyncEngine) -> None:
        stream = new_id()
        meta = store.Metadata(actor="someone", correlation_id=None, occurred_at=datetime.now(UTC))
        async with write_transaction(engine) as conn:
            await store.append(conn, stream, 0, [server_added(stream)], meta)
        async with engine.connect() as conn:
            (loaded,) = await store.load(conn, stream)

        assert loaded.correlation_id is None

    async def test_an_occurred_at_given_in_another_time_zone_keeps_its_instant(self, engine: AsyncEngine) -> None:
        stream = new_id()
        at = datetime(2025, 6, 1, 12, 0, tzinfo=timezone(timedelta(hours=2)))
        async with write_transaction(engine) as conn:
            await store.append(conn, stream, 0, [server_added(stream)], metadata(at))
        async with engine.connect() as conn:
            (loaded,) = await store.load(conn, stream)

        assert loaded.occurred_at == at
        assert loaded.occurred_at.utcoffset() == timedelta(0)

    async def test_an_append_with_a_stale_expected_version_raises_and_appends_nothing(
        self, engine: AsyncEngine
    ) -> None:
        stream = new_id()
        await append(engine, stream, 0, server_added(stream))
        await append(engine, stream, 1, renamed(stream, "First"))

        with pytest.raises(ConcurrencyError):
            await append(engine, stream, 1, renamed(stream, "Second"))
        async with engine.connect() as conn:
            assert [e.event for e in await store.load(conn, stream)][-1] == renamed(stream, "First")

    async def test_of_concurrent_appends_with_one_expected_version_exactly_one_wins(
        self, engine: AsyncEngine, databases: Databases
    ) -> None:
        stream = new_id()
        await append(engine, stream, 0, server_added(stream))
        writers = [databases.open(url_of(engine)) for _ in range(8)]

        results = await asyncio.gather(
            *(append(writer, stream, 1, renamed(stream, f"Writer {n}")) for n, writer in enumerate(writers)),
            return_exceptions=True,
        )

        winners = [r for r in results if isinstance(r, list)]
        losers = [r for r in results if not isinstance(r, list)]
        assert len(winners) == 1, results
        assert all(isinstance(r, ConcurrencyError) for r in losers), losers
        async with engine.connect() as conn:
            loaded = await store.load(conn, stream)
        assert [e.stream_version for e in loaded] == [1, 2]
        assert loaded[1] == winners[0][0]

    async def test_a_reader_following_positions_never_misses_an_event_of_concurrent_writers(
        self, engine: AsyncEngine, databases: Databases
    ) -> None:
        writers = [databases.open(url_of(engine)) for _ in range(4)]
        reader = databases.open(url_of(engine))
        start = await _last(reader)
        committed: list[int] = []
        done = asyncio.Event()

        async def write(writer: AsyncEngine) -> None:
            stream = new_id()
            for version in range(self.positions_per_writer):
                event = server_added(stream) if version == 0 else renamed(stream, f"Name {version}")
                async with write_transaction(writer) as conn:
                    recorded = await store.append(conn, stream, version, [event], metadata())
                    # Work after the position is drawn (projections, idempotency) widens the window
                    # in which a lower position could commit after a higher one.
                    await asyncio.sleep(random.random() / 500)
                committed.extend(e.position for e in recorded)

        async def follow() -> tuple[list[int], list[str]]:
            seen: list[int] = []
            violations: list[str] = []
            last = start
            while True:
                finished = done.is_set()
                async with reader.connect() as conn:
                    batch = list(
                        (
                            await conn.execute(
                                sa.text("SELECT position FROM events WHERE position > :last ORDER BY position"),
                                {"last": last},
                            )
                        ).scalars()
                    )
                    behind = (
                        await conn.execute(
                            sa.text("SELECT count(*) FROM events WHERE position > :start AND position <= :last"),
                            {"start": start, "last": last},
                        )
                    ).scalar_one()
                if behind != len(seen):
                    violations.append(f"{behind - len(seen)} event(s) appeared at or below {last} after it was read")
                seen.extend(batch)
                last = seen[-1] if seen else last
                if finished:
                    return seen, violations
                await asyncio.sleep(0.001)

        async def writers_then_done() -> None:
            try:
                await asyncio.gather(*(write(w) for w in writers))
            finally:
                done.set()

        (seen, violations), _ = await asyncio.gather(follow(), writers_then_done())

        assert violations == []
        assert seen == sorted(seen)
        assert len(seen) == len(set(seen)) == len(writers) * self.positions_per_writer
        assert set(seen) == set(committed)

    async def test_a_rolled_back_append_leaves_no_event(self, engine: AsyncEngine) -> None:
        stream = new_id()

        with pytest.raises(RuntimeError):
            async with write_transaction(engine) as conn:
                await store.append(conn, stream, 0, [server_added(stream)], metadata())
                raise RuntimeError("the rest of the transaction failed")
        async with engine.connect() as conn:
            assert await store.load(conn, stream) == []
        assert [e.stream_version for e in await append(engine, stream, 0, server_added(stream))] == [1]


async def _last(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return await store.last_position(conn)
