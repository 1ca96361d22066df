"""Persisted history snapshots: after a restart a point-in-time list is folded
from the nearest snapshot and equals the fold from zero; rebuild and import
write them; a missing or damaged one is never trusted and is written again."""

from __future__ import annotations

import asyncio
import io
import random
import zlib

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.commands import RestoreServers
from domain.state import ServerList, fold_events
from events import snapshots, store
from events.application.history import History
from events.application.service import MailServerService
from events.operations import portability
from events.operations.rebuild import rebuild
from events.payload_fold import PayloadFold
from events.payloads import read_rows
from events.tables import history_snapshots
from tests.integration.backends import Databases, url_of
from tests.integration.builders import add_server, request, respond
from tests.integration.play import Played

EVERY = 5


def interval_ends(positions: list[int], every: int) -> list[int]:
    """What the snapshot positions must be: the last position of every interval with a later event."""
    last = max(positions)
    ends: dict[int, int] = {}
    for position in positions:
        if position // every < last // every:
            ends[position // every] = position
    return sorted(ends.values())


async def stored(engine: AsyncEngine) -> dict[int, sa.Row[object]]:
    async with engine.connect() as conn:
        rows = (await conn.execute(sa.select(history_snapshots))).all()
    return {int(row.position): row for row in rows}


async def listed_as(engine: AsyncEngine) -> dict[int, ServerList]:
    """Every stored snapshot, read back without the checks (to compare contents)."""
    return {
        p: PayloadFold.decode(zlib.decompress(row.payload)).server_list() for p, row in (await stored(engine)).items()
    }


class SnapshotCases:
    async def test_the_payload_fold_gives_the_domain_fold_s_list_at_every_position(self, played: Played) -> None:
        fold = PayloadFold()
        async with played.engine.connect() as conn:
            rows = await read_rows(conn, after=0, limit=100_000)
        for row in rows:
            fold.apply(row.type, row.schema_version, row.data, row.stream_version, row.occurred_at)
            assert fold.server_list() == played.states[row.position], row.position
            assert PayloadFold.decode(fold.encode()).server_list() == played.states[row.position], row.position

    async def test_after_a_restart_every_position_reads_as_the_fold_from_zero_folding_few_events(
        self, played: Played
    ) -> None:
        await snapshots.backfill(played.engine, 7)
        assert sorted(await stored(played.engine)) == interval_ends(sorted(played.states), 7)
        restarted = History(played.engine, snapshot_every=7)
        positions = sorted(played.states)
        random.Random(3).shuffle(positions)
        for position in positions:
            before = restarted.folded
            assert await restarted.list_at(str(position)) == played.states[position], position
            assert restarted.folded - before <= 7, position

    async def test_rebuild_writes_the_missing_snapshots_holding_the_list_at_their_positions(
        self, short: Played
    ) -> None:
        await rebuild(short.engine, snapshot_every=EVERY)
        first = await stored(short.engine)
        assert sorted(first) == interval_ends(sorted(short.states), EVERY)
        assert all(listed == short.states[p] for p, listed in (await listed_as(short.engine)).items())

        async with short.engine.begin() as conn:
            await conn.execute(history_snapshots.delete().where(history_snapshots.c.position == min(first)))
        await rebuild(short.engine, snapshot_every=EVERY)

        again = await stored(short.engine)
        assert {p: r.checksum for p, r in again.items()} == {p: r.checksum for p, r in first.items()}

    async def test_import_into_a_fresh_database_writes_snapshots_of_the_imported_log(
        self, short: Played, databases: Databases, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        lines: list[str] = []
        await portability.export(short.engine, lines.append)
        target = await databases.fresh_engine()
        monkeypatch.setenv("MAILREG_SNAPSHOT_EVERY", str(EVERY))

        await portability.import_log(target, io.BytesIO("".join(lines).encode()), upgrade=False)

        assert sorted(await stored(target)) == interval_ends(sorted(short.states), EVERY)
        assert all(listed == short.states[p] for p, listed in (await listed_as(target)).items())
        restarted = History(target)
        for position, state in short.states.items():
            assert await restarted.list_at(str(position)) == state, position

    async def test_a_missing_or_damaged_snapshot_is_never_trusted_and_is_written_again(self, short: Played) -> None:
        engine = short.engine
        await snapshots.backfill(engine, EVERY)
        good = await stored(engine)
        garbled, swapped, missing = sorted(good)[1:4]
        async with engine.begin() as conn:
            await conn.execute(
                history_snapshots.update().where(history_snapshots.c.position == garbled).values(payload=b"not zlib")
            )
            # Another snapshot's (well-formed) payload under this one's checksum.
            await conn.execute(
                history_snapshots.update()
                .where(history_snapshots.c.position == swapped)
                .values(payload=good[garbled].payload, list_version=good[garbled].list_version)
            )
            await conn.execute(history_snapshots.delete().where(history_snapshots.c.position == missing))
        restarted = History(engine, snapshot_every=EVERY)
        for position, state in sorted(short.states.items()):
            assert await restarted.list_at(str(position)) == state, position

        assert not {garbled, swapped, missing} & set(await stored(engine))
        written, _ = await snapshots.backfill(engine, EVERY)

        assert written == 3
        assert {p: r.checksum for p, r in (await stored(engine)).items()} == {p: r.checksum for p, r in good.items()}

    async def test_two_instances_writing_the_same_snapshots_at_once_leave_one_correct_set(
        self, short: Played, databases: Databases
    ) -> None:
        other = databases.open(url_of(short.engine))

        await asyncio.gather(snapshots.backfill(short.engine, EVERY), snapshots.backfill(other, EVERY))

        both = {p: r.checksum for p, r in (await stored(short.engine)).items()}
        assert sorted(both) == interval_ends(sorted(short.states), EVERY)
        assert all(listed == short.states[p] for p, listed in (await listed_as(short.engine)).items())

    async def test_a_snapshot_naming_an_event_the_log_does_not_hold_there_is_not_trusted(self, short: Played) -> None:
        engine = short.engine
        last = max(short.states)
        ghost = (await _row_at(engine, last))._replace(position=last + 2, stream_id="ghost")
        bogus = snapshots.row_of(ghost, PayloadFold())
        async with engine.begin() as conn:
            await conn.execute(history_snapshots.insert(), [bogus])
        service = MailServerService(engine)
        appended = []
        for n in range(4):
            outcome = await service.execute(add_server(code=f"ghost-{n}"), request(), respond)
            appended.extend(outcome.recorded)
        positions = [e.position for e in appended]
        assert last + 2 in positions

        for position in positions:
            got = await History(engine, snapshot_every=EVERY).list_at(str(position))
            assert got == await _fold_from_zero(engine, position), position
        assert last + 2 not in await stored(engine)

    async def test_a_restore_after_a_restart_brings_back_the_list_read_from_snapshots(self, short: Played) -> None:
        engine = short.engine
        await snapshots.backfill(engine, EVERY)
        target_position = sorted(short.states)[len(short.states) // 2]
        target = await History(engine, snapshot_every=EVERY).list_at(str(target_position))
        assert target == short.states[target_position]

        await MailServerService(engine).execute(RestoreServers(target=target), request(), respond)

        current = (await MailServerService(engine).current()).server_list
        assert [(s.id, s.settings) for s in current.ordered()] == [(s.id, s.settings) for s in target.ordered()]
        last = await _last(engine)
        assert await History(engine, snapshot_every=EVERY).list_at(str(last)) == current


async def _row_at(engine: AsyncEngine, position: int) -> snapshots.StoredRow:
    async with engine.connect() as conn:
        (row,) = await read_rows(conn, after=position - 1, until=position, limit=1)
    return row


async def _fold_from_zero(engine: AsyncEngine, position: int) -> ServerList:
    async with engine.connect() as conn:
        log = await store.read(conn, until=position)
    return fold_events((e.event, e.meta) for e in log)


async def _last(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return await store.last_position(conn)
