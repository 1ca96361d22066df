"""A long random history: the read model equals a rebuild and a fold, and the
list at every position equals what the test tracked."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.commands import ChangeServer, RestoreServers
from domain.model import Server
from domain.state import ServerList, fold_events
from events import projections, store
from events.application.history import History
from events.application.service import MailServerService
from events.database import read_transaction, write_transaction
from events.operations.rebuild import rebuild
from tests.integration.builders import add_server, metadata, request, respond, server_added
from tests.integration.play import Played

T0 = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)

MALFORMED = ["0", "-1", "", "abc", "1.5", "1e3", " 12 x", "²", "٣", "9" * 19, "9" * 25, str(2**63)]


def settled(servers: tuple[Server, ...]) -> list[tuple[str, object, datetime]]:
    """What a restore promises to bring back: ids, settings and creation times, in order."""
    return [(s.id, s.settings, s.created_at) for s in servers]


async def load(engine: AsyncEngine) -> tuple[int, ServerList]:
    async with read_transaction(engine) as conn:
        return await projections.load_list(conn)


class HistoryCases:
    async def test_the_random_history_exercises_every_command(self, played: Played) -> None:
        assert set(played.executed) == {
            "AddServer",
            "ChangeServer",
            "ReorderServers",
            "DeleteServer",
            "DeleteAllServers",
            "RestoreServers",
        }, played.executed
        assert sum(played.rejected.values()) > 0
        assert len(played.states) > 200

    async def test_the_read_model_equals_a_rebuild_and_a_fold_after_a_long_random_history(self, played: Played) -> None:
        engine = played.engine
        projected_at, projected = await load(engine)
        report = await rebuild(engine)
        rebuilt_at, rebuilt = await load(engine)
        async with engine.connect() as conn:
            log = await store.read(conn)
        folded = fold_events((e.event, e.meta) for e in log)

        assert projected.ordered() == rebuilt.ordered() == folded.ordered() == played.final.ordered()
        assert projected.list_version == rebuilt.list_version == folded.list_version == played.final.list_version
        assert projected_at == rebuilt_at == log[-1].position
        assert (report.events, report.servers) == (len(log), len(folded.order))

    async def test_every_restore_brings_the_list_back_to_its_target(self, played: Played) -> None:
        assert played.restores
        for target, after in played.restores:
            assert settled(after.ordered()) == settled(target.ordered())

    async def test_the_list_at_a_position_equals_the_state_tracked_after_that_event(self, played: Played) -> None:
        # Each lookup folds the log from the start, so check a sample, weighted towards restores.
        positions = sorted(played.states)
        sample = sorted({*positions[::8], *played.restore_positions[::3], positions[0], positions[-1]})
        history = History(played.engine)
        for position in sample:
            assert await history.list_at(str(position)) == played.states[position], position

    @pytest.mark.parametrize("every", [1, 7, 50])
    async def test_the_list_at_every_position_is_the_same_when_folded_from_snapshots(
        self, played: Played, every: int
    ) -> None:
        history = History(played.engine, snapshot_every=every)
        # Ask from the newest position down, so later lookups start at inner snapshots.
        for position in sorted(played.states, reverse=True):
            assert await history.list_at(str(position)) == played.states[position], position

    async def test_a_position_that_holds_no_event_has_no_list(self, played: Played) -> None:
        async with write_transaction(played.engine) as conn:
            (phantom,) = await store.append(conn, "phantom", 0, [server_added("phantom")], metadata())
            await conn.rollback()
        history = History(played.engine)

        assert await history.list_at(str(phantom.position)) is None
        assert await history.list_at(str(max(played.states) + 1000)) is None

    async def test_a_restore_that_swaps_two_codes_keeps_every_intermediate_read_model_valid(
        self, fresh_engine: AsyncEngine
    ) -> None:
        service = MailServerService(fresh_engine)
        a, b = add_server(), add_server()
        # Each code is the other server's id: parking on a server's own id must not collide either.
        a, b = replace(a, code=b.server_id), replace(b, code=a.server_id)
        await service.execute(a, request(), respond)
        swap_from = (await service.execute(b, request(), respond)).recorded[-1].position
        for server_id, code in ((a.server_id, "temporary"), (b.server_id, a.code), (a.server_id, b.code)):
            await service.execute(ChangeServer(server_id=server_id, code=code), request(), respond)
        target = await History(fresh_engine).list_at(str(swap_from))
        assert target is not None

        restored = await service.execute(RestoreServers(target=target), request(), respond)

        assert len(restored.recorded) == 3
        now = (await service.current()).server_list
        assert [(s.id, s.code) for s in now.ordered()] == [(a.server_id, a.code), (b.server_id, b.code)]
        _, projected = await load(fresh_engine)
        await rebuild(fresh_engine)
        assert (await load(fresh_engine))[1] == projected == now

    @pytest.mark.parametrize("cursor", MALFORMED)
    async def test_an_unknown_or_malformed_cursor_has_no_list(self, played: Played, cursor: str) -> None:
        assert await History(played.engine).list_at(cursor) is None

    async def test_the_list_at_a_time_includes_every_event_that_occurred_until_then(
        self, fresh_engine: AsyncEngine
    ) -> None:
        ids = await self.add_hourly(fresh_engine, 3)
        history = History(fresh_engine)

        assert (await history.list_at_time(T0 - timedelta(seconds=1))).order == ()
        assert (await history.list_at_time(T0)).order == tuple(ids[:1])
        assert (await history.list_at_time(T0 + timedelta(minutes=90))).order == tuple(ids[:2])
        assert (await history.list_at_time(T0 + timedelta(days=1))).order == tuple(ids)

    async def test_the_list_at_a_time_given_with_an_offset_counts_events_by_instant(
        self, fresh_engine: AsyncEngine
    ) -> None:
        ids = await self.add_hourly(fresh_engine, 3)
        half_past_ten_utc = (T0 + timedelta(minutes=30)).astimezone(timezone(timedelta(hours=2)))

        assert (await History(fresh_engine).list_at_time(half_past_ten_utc)).order == tuple(ids[:1])

    @staticmethod
    async def add_hourly(engine: AsyncEngine, count: int) -> list[str]:
        """Servers added at T0, T0 + 1 h, ... (UTC)."""
        ids = [f"hourly-{n}" for n in range(count)]
        for n, server_id in enumerate(ids):
            async with write_transaction(engine) as conn:
                await store.append(conn, server_id, 0, [server_added(server_id)], metadata(T0 + timedelta(hours=n)))
        return ids
