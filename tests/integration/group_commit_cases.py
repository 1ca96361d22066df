"""Group commit: commands that queue behind a running transaction commit
together in the next one, and each keeps its own outcome."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.commands import ChangeServer, Command, DeleteServer, ReorderServers
from domain.errors import IdempotencyKeyReusedError, MailServerError
from domain.events import Event
from domain.model import Server
from domain.state import ServerList
from events import store
from events.application.service import MailServerService, Outcome, Request
from events.serialization import JsonDict
from events.tables import idempotency_keys
from tests.integration.backends import Databases, url_of
from tests.integration.builders import add_server, last_position, new_id, problems_of, remembered, request, respond
from tests.integration.service_cases import add


async def in_one_batch(
    service: MailServerService, commands: Sequence[tuple[Command, Request]]
) -> list[Outcome | BaseException]:
    """Run `commands` so that they queue behind one first command and so share
    the next transaction; the first one's own outcome is left out."""
    blocker = await add(service)
    first = service.execute(ChangeServer(server_id=blocker.id, name=new_id("blocker")), request(), respond)
    rest = [service.execute(c, r, respond) for c, r in commands]
    results = await asyncio.gather(first, *rest, return_exceptions=True)
    assert isinstance(results[0], Outcome), results[0]
    return list(results[1:])


async def written_after(engine: AsyncEngine, position: int) -> list[store.RecordedEvent]:
    async with engine.connect() as conn:
        return await store.read(conn, after=position)


async def batch_times(engine: AsyncEngine, outcomes: Sequence[Outcome | BaseException]) -> set[Any]:
    """The distinct occurred_at of the events these outcomes recorded (one per transaction)."""
    positions = [e.position for o in outcomes if isinstance(o, Outcome) for e in o.recorded]
    return {e.occurred_at for e in await written_after(engine, 0) if e.position in positions}


class GroupCommitCases:
    async def test_a_rejected_command_in_a_batch_rejects_alone_and_writes_nothing(self, engine: AsyncEngine) -> None:
        service = MailServerService(engine)
        held: Server = await add(service)
        stale = ChangeServer(server_id=held.id, expected_version=held.version, name="First wins")
        loser = ChangeServer(server_id=held.id, expected_version=held.version, name="Stale version")
        added = add_server()
        duplicate = add_server(code=added.code)
        blank = add_server(name="   ")
        later = ChangeServer(server_id=held.id, name="Changed after the conflict")
        keyed = request(actor="batch-admin", key=new_id("key"), command=blank)
        before = await last_position(engine)

        results = await in_one_batch(
            service,
            [(stale, request()), (loser, request()), (added, request()), (duplicate, request()), (blank, keyed)],
        )
        results += await in_one_batch(service, [(later, request())])

        won, conflict, first_add, taken, bad, after = results
        assert isinstance(won, Outcome) and len(won.recorded) == 1
        assert isinstance(conflict, MailServerError)
        assert problems_of(conflict) == [(("expectedVersion",), "VERSION_CONFLICT")]
        assert isinstance(first_add, Outcome) and len(first_add.recorded) == 1
        assert isinstance(taken, MailServerError)
        assert problems_of(taken) == [(("code",), "CODE_ALREADY_EXISTS")]
        assert isinstance(bad, MailServerError)
        assert problems_of(bad) == [(("name",), "REQUIRED")]
        assert not await remembered(engine, "batch-admin", keyed.idempotency_key or "")
        assert isinstance(after, Outcome)
        assert len(await batch_times(engine, [won, first_add])) == 1, "the accepted ones shared one transaction"
        streams = [e.stream_id for e in await written_after(engine, before)]
        assert (streams.count(held.id), streams.count(added.server_id)) == (2, 1)
        assert duplicate.server_id not in streams and blank.server_id not in streams
        servers = (await MailServerService(engine).current()).server_list.servers
        assert servers[held.id].name == "Changed after the conflict"
        assert servers[held.id].version == held.version + 2
        assert servers[added.server_id].code == added.code
        assert duplicate.server_id not in servers and blank.server_id not in servers

    async def test_an_idempotent_retry_in_the_same_batch_gets_the_original_reply_and_appends_nothing(
        self, engine: AsyncEngine
    ) -> None:
        service = MailServerService(engine)
        command, actor, key = add_server(), new_id("actor"), new_id("key")
        original = request(actor=actor, key=key, command=command)
        other_input = add_server()
        before = await last_position(engine)

        first, retry, reused = await in_one_batch(
            service,
            [
                (command, original),
                (command, original),
                (other_input, request(actor=actor, key=key, command=other_input)),
            ],
        )

        assert isinstance(first, Outcome) and not first.retried and len(first.recorded) == 1
        assert isinstance(retry, Outcome) and retry.retried and retry.recorded == ()
        assert retry.response == first.response
        assert isinstance(reused, IdempotencyKeyReusedError)
        streams = [e.stream_id for e in await written_after(engine, before)]
        assert streams.count(command.server_id) == 1 and other_input.server_id not in streams
        assert await remembered(engine, actor, key)
        async with engine.connect() as conn:
            count = (
                await conn.execute(
                    sa.select(sa.func.count()).where(idempotency_keys.c.actor == actor, idempotency_keys.c.key == key)
                )
            ).scalar_one()
        assert count == 1

        again = await service.execute(command, original, respond)
        assert again.retried and again.response == first.response

    async def test_a_retry_of_a_rejected_original_in_the_same_batch_is_decided_again(self, engine: AsyncEngine) -> None:
        service = MailServerService(engine)
        blank, actor, key = add_server(name=" "), new_id("actor"), new_id("key")
        keyed = request(actor=actor, key=key, command=blank)

        results = await in_one_batch(service, [(blank, keyed), (blank, keyed)])

        assert all(isinstance(r, MailServerError) for r in results), results
        assert not await remembered(engine, actor, key)

    @pytest.mark.parametrize("writers", [8])
    async def test_concurrent_writers_on_one_instance_each_get_their_own_event_in_commit_order(
        self, engine: AsyncEngine, writers: int
    ) -> None:
        service = MailServerService(engine)
        servers = [await add(service) for _ in range(writers)]

        results = await asyncio.gather(
            *(
                service.execute(ChangeServer(server_id=s.id, name=f"Writer {n} round {r}"), request(), respond)
                for r in range(5)
                for n, s in enumerate(servers)
            )
        )

        positions = [e.position for o in results for e in o.recorded]
        assert len(positions) == 5 * writers and len(set(positions)) == len(positions)
        current = (await MailServerService(engine).current()).server_list.servers
        assert [current[s.id].version for s in servers] == [s.version + 5 for s in servers]
        assert [current[s.id].name for s in servers] == [f"Writer {n} round 4" for n in range(writers)]

    async def test_an_instance_behind_catches_up_on_other_instances_writes_before_deciding(
        self, engine: AsyncEngine, databases: Databases
    ) -> None:
        a, b = MailServerService(engine), MailServerService(databases.open(url_of(engine)))
        kept, gone, renamed = await add(a), await add(a), await add(a)
        await b.current()
        await a.execute(ChangeServer(server_id=renamed.id, name="Renamed by A"), request(), respond)
        await a.execute(DeleteServer(server_id=gone.id), request(), respond)
        order = (await a.current()).server_list.order
        await a.execute(
            ReorderServers(server_ids=(renamed.id, *[i for i in order if i != renamed.id])), request(), respond
        )

        outcome = await b.execute(
            ChangeServer(server_id=renamed.id, expected_version=renamed.version + 1, name="Then by B"),
            request(),
            respond,
        )

        assert len(outcome.recorded) == 1 and outcome.recorded[0].stream_version == renamed.version + 2
        assert await b.current() == await MailServerService(engine).current()
        seen = (await b.current()).server_list
        assert seen.order[0] == renamed.id and gone.id not in seen.servers and kept.id in seen.servers
        assert seen.servers[renamed.id].name == "Then by B"
        with pytest.raises(MailServerError):
            await b.execute(ChangeServer(server_id=gone.id, name="Gone already"), request(), respond)

    async def test_a_retry_that_would_now_be_accepted_still_gets_the_original_reply(self, engine: AsyncEngine) -> None:
        service = MailServerService(engine)
        held = await add(service)
        change, actor, key = ChangeServer(server_id=held.id, name="Renamed once"), new_id("actor"), new_id("key")
        keyed = request(actor=actor, key=key, command=change)

        def named(server_list: ServerList, new_events: Sequence[Event]) -> JsonDict:
            return {"name": server_list.servers[held.id].name, "events": len(new_events)}

        first = await service.execute(change, keyed, named)
        later = await service.execute(ChangeServer(server_id=held.id, name="Renamed again"), request(), named)
        before = await last_position(engine)

        retry = await service.execute(change, keyed, named)

        assert retry.retried and retry.response == first.response != later.response
        assert await last_position(engine) == before
        assert (await service.current()).server_list.servers[held.id].name == "Renamed again"
