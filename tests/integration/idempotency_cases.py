"""Idempotent retries: remembered per actor and key, across restarts; failures are forgotten."""

from __future__ import annotations

import dataclasses

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.commands import AddServer, DeleteServer
from domain.errors import IdempotencyKeyReusedError, MailServerError
from events.application.service import MailServerService
from tests.integration.backends import Databases, url_of
from tests.integration.builders import (
    add_server,
    last_position,
    new_id,
    problems_of,
    remembered,
    request,
    respond,
)


def retry_of(command: AddServer) -> AddServer:
    """The same input again: the API draws a new server id for every request."""
    return dataclasses.replace(command, server_id=new_id())


class IdempotencyCases:
    async def test_a_retry_with_the_same_key_and_input_returns_the_original_response_and_appends_nothing(
        self, engine: AsyncEngine
    ) -> None:
        service, actor, key = MailServerService(engine), new_id("actor"), new_id("key")
        command = add_server()
        first = await service.execute(command, request(actor=actor, key=key, command=command), respond)
        await service.execute(add_server(), request(actor=actor), respond)
        last = await last_position(engine)

        retry = retry_of(command)
        again = await service.execute(retry, request(actor=actor, key=key, command=retry), respond)

        assert (again.retried, again.recorded, again.response) == (True, (), first.response)
        assert not first.retried and len(first.recorded) == 1
        assert await last_position(engine) == last
        assert retry.server_id not in (await service.current()).server_list.servers

    async def test_a_retry_is_recognised_after_reopening_the_database(
        self, engine: AsyncEngine, databases: Databases
    ) -> None:
        actor, key, command = new_id("actor"), new_id("key"), add_server()
        first = await MailServerService(engine).execute(
            command, request(actor=actor, key=key, command=command), respond
        )
        last = await last_position(engine)

        reopened = MailServerService(databases.open(url_of(engine)))
        retry = retry_of(command)
        again = await reopened.execute(retry, request(actor=actor, key=key, command=retry), respond)

        assert (again.retried, again.response) == (True, first.response)
        assert await last_position(engine) == last

    async def test_the_same_key_with_a_different_input_is_refused(self, engine: AsyncEngine) -> None:
        service, actor, key = MailServerService(engine), new_id("actor"), new_id("key")
        command = add_server()
        await service.execute(command, request(actor=actor, key=key, command=command), respond)
        last = await last_position(engine)

        other = add_server()
        with pytest.raises(IdempotencyKeyReusedError) as raised:
            await service.execute(other, request(actor=actor, key=key, command=other), respond)

        assert problems_of(raised.value) == [(("idempotencyKey",), "IDEMPOTENCY_KEY_REUSED")]
        assert await last_position(engine) == last

    async def test_idempotency_keys_are_scoped_per_actor(self, engine: AsyncEngine) -> None:
        service, key = MailServerService(engine), new_id("key")
        first, second = add_server(), add_server()
        by_first = await service.execute(first, request(actor=new_id("first"), key=key, command=first), respond)
        last = await last_position(engine)
        other_actor = new_id("second")

        by_second = await service.execute(second, request(actor=other_actor, key=key, command=second), respond)
        retry = retry_of(second)
        again = await service.execute(retry, request(actor=other_actor, key=key, command=retry), respond)

        assert not by_second.retried and len(by_second.recorded) == 1
        assert by_second.recorded[0].position > last
        assert (again.retried, again.response) == (True, by_second.response)
        assert again.response != by_first.response

    async def test_a_failed_attempt_is_not_remembered_so_a_corrected_retry_runs(self, engine: AsyncEngine) -> None:
        service, actor, key = MailServerService(engine), new_id("actor"), new_id("key")
        taken = add_server()
        await service.execute(taken, request(), respond)
        clash = add_server(code=taken.code)
        with pytest.raises(MailServerError):
            await service.execute(clash, request(actor=actor, key=key, command=clash), respond)

        fixed = add_server()
        outcome = await service.execute(fixed, request(actor=actor, key=key, command=fixed), respond)

        assert not outcome.retried and len(outcome.recorded) == 1
        assert await remembered(engine, actor, key)

    async def test_a_failed_attempt_is_not_remembered_so_the_same_retry_runs_again(self, engine: AsyncEngine) -> None:
        service, actor, key = MailServerService(engine), new_id("actor"), new_id("key")
        taken = add_server()
        await service.execute(taken, request(), respond)
        clash = add_server(code=taken.code)
        with pytest.raises(MailServerError):
            await service.execute(clash, request(actor=actor, key=key, command=clash), respond)
        await service.execute(DeleteServer(server_id=taken.server_id), request(), respond)

        retry = retry_of(clash)
        outcome = await service.execute(retry, request(actor=actor, key=key, command=retry), respond)

        assert not outcome.retried and len(outcome.recorded) == 1
        assert (await service.current()).server_list.servers[retry.server_id].code == taken.code
