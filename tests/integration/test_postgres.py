"""The integration suite against the PostgreSQL server of the machine."""

import asyncio

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.commands import ChangeServer
from events.application.service import MailServerService
from events.application.writer import WRITER_NAME
from tests.integration.backends import Postgres
from tests.integration.builders import request, respond
from tests.integration.group_commit_cases import GroupCommitCases
from tests.integration.history_cases import HistoryCases
from tests.integration.idempotency_cases import IdempotencyCases
from tests.integration.service_cases import ServiceCases, add
from tests.integration.snapshot_cases import SnapshotCases
from tests.integration.store_cases import StoreCases

pytestmark = pytest.mark.postgres


class TestPostgres(StoreCases, ServiceCases, IdempotencyCases, HistoryCases, GroupCommitCases, SnapshotCases):
    backend = Postgres()


async def writer_pids(engine: AsyncEngine) -> list[int]:
    """The backends of write connections (they name themselves) on this database."""
    async with engine.connect() as conn:
        query = sa.text(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = :name"
        )
        return [row.pid for row in await conn.execute(query, {"name": WRITER_NAME})]


class TestOwnWriterConnection:
    """The service's own write connection (as `mailreg serve` runs it) has no
    pre-ping: a connection the server dropped must be noticed and replaced."""

    backend = Postgres()

    async def test_a_write_after_the_server_dropped_the_connection_succeeds_on_a_new_one(
        self, engine: AsyncEngine
    ) -> None:
        service = MailServerService(engine, own_connection=True)
        try:
            first = await add(service)
            [pid] = await writer_pids(engine)
            async with engine.connect() as conn:
                await conn.execute(sa.text("SELECT pg_terminate_backend(:pid, 5000)"), {"pid": pid})
            await asyncio.sleep(0.05)  # the server has closed the socket: let the loop read the close

            outcome = await service.execute(ChangeServer(server_id=first.id, name="After the drop"), request(), respond)

            assert [e.stream_version for e in outcome.recorded] == [first.version + 1]
            assert pid not in await writer_pids(engine)
            fresh = MailServerService(engine)
            assert (await fresh.current()).server_list.servers[first.id].name == "After the drop"
        finally:
            await service.close()
