"""Liveness, readiness and shutdown of the app (in-process ASGI)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from api.app import create_app
from tests.e2e import documents as doc
from tests.e2e.api_client import GraphQLClient
from tests.e2e.conftest import BACKENDS, Deployment, config_for, fresh_database, migrated, sqlite_url


@pytest.fixture(params=BACKENDS)
async def fresh_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    async with fresh_database(request.param, tmp_path) as url:
        yield url


def client(app: Starlette) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://mailreg.test")


async def test_a_migrated_deployment_is_alive_and_ready(asgi: Deployment):
    assert (await asgi.http.get("/healthz")).status_code == 200
    ready = await asgi.http.get("/readyz")
    assert ready.status_code == 200, ready.text


async def test_an_unmigrated_database_is_alive_but_not_ready(fresh_url: str, tmp_path: Path):
    app = create_app(config_for(fresh_url, tmp_path))
    async with app.router.lifespan_context(app), client(app) as http:
        assert (await http.get("/healthz")).status_code == 200
        assert (await http.get("/readyz")).status_code == 503


async def test_the_app_shuts_down_promptly_right_after_a_mutation(tmp_path: Path):
    await migrated(sqlite_url(tmp_path))
    app = create_app(config_for(sqlite_url(tmp_path), tmp_path))
    lifespan = app.router.lifespan_context(app)
    await lifespan.__aenter__()
    async with client(app) as http:
        await GraphQLClient(http).add(doc.manual("last-words"))
    await asyncio.sleep(0.5)  # let the feed deliver the add and settle
    # A wake-up still pending at shutdown, as a commit here or a NOTIFY from another
    # instance leaves it when SIGTERM comes right after.
    app.state.services.feed.wake()
    shutdown = asyncio.ensure_future(lifespan.__aexit__(None, None, None))
    try:
        await asyncio.wait({shutdown}, timeout=2)
        assert shutdown.done()
    finally:
        if not shutdown.done():
            # Cancel the stuck feed task once more so that the shutdown, and this loop, can finish.
            for task in app.state.services.feed._tasks:
                task.cancel()
        await shutdown
