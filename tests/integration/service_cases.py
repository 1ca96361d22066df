"""MailServerService on several engines, as several API instances would run it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.commands import ChangeServer, Command, DeleteServer, ReorderServers
from domain.errors import MailServerError
from domain.model import Server
from events.application.service import MailServerService, Outcome
from tests.integration.backends import Databases, url_of
from tests.integration.builders import (
    add_server,
    count_events,
    last_position,
    new_id,
    problems_of,
    remembered,
    request,
    respond,
)

INSTANCES = 6

REJECTED: dict[str, Callable[[Server], Command]] = {
    "a code already taken": lambda held: add_server(code=held.code),
    "a blank name": lambda held: add_server(name="   "),
    "an unknown server": lambda held: ChangeServer(server_id=new_id(), name="Renamed"),
    "a stale server version": lambda held: DeleteServer(server_id=held.id, expected_version=held.version + 1),
    "an order naming a server twice": lambda held: ReorderServers(server_ids=(held.id, held.id)),
}


async def add(service: MailServerService) -> Server:
    command = add_server()
    await service.execute(command, request(), respond)
    return (await service.current()).server_list.servers[command.server_id]


class ServiceCases:
    async def instances(self, engine: AsyncEngine, databases: Databases) -> list[MailServerService]:
        """Registries on engines of their own, each with a warm cache."""
        registries = [MailServerService(databases.open(url_of(engine))) for _ in range(INSTANCES)]
        await asyncio.gather(*(r.current() for r in registries))
        return registries

    async def test_of_concurrent_adds_with_one_code_exactly_one_succeeds(
        self, engine: AsyncEngine, databases: Databases
    ) -> None:
        code = new_id("code")
        registries = await self.instances(engine, databases)
        commands = [add_server(code=code) for _ in registries]

        results = await asyncio.gather(
            *(r.execute(c, request(), respond) for r, c in zip(registries, commands, strict=True)),
            return_exceptions=True,
        )

        succeeded = [c.server_id for c, r in zip(commands, results, strict=True) if isinstance(r, Outcome)]
        failed = [r for r in results if not isinstance(r, Outcome)]
        assert len(succeeded) == 1, results
        assert all(isinstance(e, MailServerError) for e in failed), failed
        assert all(problems_of(e) == [(("code",), "CODE_ALREADY_EXISTS")] for e in failed)
        assert await count_events(engine, [c.server_id for c in commands]) == 1
        holders = [s.id for s in (await registries[0].current()).server_list.ordered() if s.code == code]
        assert holders == succeeded

    async def test_concurrent_changes_of_different_servers_without_expected_versions_all_succeed(
        self, engine: AsyncEngine, databases: Databases
    ) -> None:
        ids = [(await add(MailServerService(engine))).id for _ in range(INSTANCES)]
        registries = await self.instances(engine, databases)

        results = await asyncio.gather(
            *(
                r.execute(ChangeServer(server_id=i, name=f"Renamed {i}"), request(), respond)
                for r, i in zip(registries, ids, strict=True)
            ),
            return_exceptions=True,
        )

        assert all(isinstance(r, Outcome) and len(r.recorded) == 1 for r in results), results
        servers = (await MailServerService(engine).current()).server_list.servers
        assert [(servers[i].name, servers[i].version) for i in ids] == [(f"Renamed {i}", 2) for i in ids]

    async def test_of_concurrent_changes_with_one_expected_version_exactly_one_succeeds(
        self, engine: AsyncEngine, databases: Databases
    ) -> None:
        server = await add(MailServerService(engine))
        registries = await self.instances(engine, databases)

        results = await asyncio.gather(
            *(
                r.execute(
                    ChangeServer(server_id=server.id, expected_version=server.version, name=f"Name {n}"),
                    request(),
                    respond,
                )
                for n, r in enumerate(registries)
            ),
            return_exceptions=True,
        )

        failed = [r for r in results if not isinstance(r, Outcome)]
        assert len(results) - len(failed) == 1, results
        assert all(problems_of(e) == [(("expectedVersion",), "VERSION_CONFLICT")] for e in failed), failed
        assert await count_events(engine, [server.id]) == 2

    @pytest.mark.parametrize("rejection", list(REJECTED))
    async def test_a_rejected_command_appends_nothing_and_leaves_no_idempotency_key(
        self, engine: AsyncEngine, rejection: str
    ) -> None:
        service = MailServerService(engine)
        held = await add(service)
        before, last = await service.current(), await last_position(engine)
        command, key = REJECTED[rejection](held), new_id("key")

        with pytest.raises(MailServerError):
            await service.execute(command, request(actor="rejected-admin", key=key, command=command), respond)

        assert await last_position(engine) == last
        assert not await remembered(engine, "rejected-admin", key)
        assert await MailServerService(engine).current() == before

    async def test_a_command_that_changes_nothing_appends_nothing(self, engine: AsyncEngine) -> None:
        service = MailServerService(engine)
        server = await add(service)
        last = await last_position(engine)

        outcome = await service.execute(ChangeServer(server_id=server.id, name=server.name), request(), respond)

        assert outcome.recorded == ()
        assert await last_position(engine) == last

    async def test_a_write_through_one_instance_is_read_at_once_through_another(
        self, engine: AsyncEngine, databases: Databases
    ) -> None:
        a, b = MailServerService(engine), MailServerService(databases.open(url_of(engine)))
        await b.current()
        command = add_server()

        added = await a.execute(command, request(), respond)
        seen = await b.current()
        assert command.server_id in seen.server_list.servers
        assert seen.position == added.recorded[-1].position

        await a.execute(ChangeServer(server_id=command.server_id, name="Renamed by A"), request(), respond)
        assert (await b.current()).server_list.servers[command.server_id].name == "Renamed by A"

        await b.execute(DeleteServer(server_id=command.server_id), request(), respond)
        assert command.server_id not in (await a.current()).server_list.servers
