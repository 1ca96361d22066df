"""Readiness: /readyz is 200 only while the database schema is at head; /healthz stays 200."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import httpx
import pytest

from events import migrate
from tests.e2e.conftest import config_for, create_app
from tests.e2e.hardening import migrate_once, pg_database

pytestmark = pytest.mark.postgres


async def test_readyz_is_503_until_the_schema_is_at_head_and_healthz_stays_200(tmp_path: Path):
    async with pg_database() as url:
        app = create_app(config_for(url, tmp_path))
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://mailreg.test") as http:

                async def ready() -> int:
                    assert (await http.get("/healthz")).status_code == 200
                    return (await http.get("/readyz")).status_code

                assert await ready() == 503
                await migrate_once(url)
                assert await ready() == 200
                connection = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
                try:
                    await connection.execute("UPDATE alembic_version SET version_num = '0002'")
                    assert await ready() == 503
                    await connection.execute("UPDATE alembic_version SET version_num = $1", migrate.head())
                    assert await ready() == 200
                    await connection.execute("DROP TABLE alembic_version")
                    assert await ready() == 503
                finally:
                    await connection.close()
