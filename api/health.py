"""Liveness and readiness endpoints for orchestrators and load balancers."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from events import migrate

READINESS_TIMEOUT_SECONDS = 4


async def healthz(_: Request) -> Response:
    """200 while the process serves requests at all."""
    return PlainTextResponse("ok")


def readyz(engine: AsyncEngine) -> Callable[[Request], Awaitable[Response]]:
    """An endpoint that answers 200 when the database is reachable and migrated, 503 otherwise."""

    async def endpoint(_: Request) -> Response:
        try:
            ready = await asyncio.wait_for(migrate.is_current(engine), READINESS_TIMEOUT_SECONDS)
        except Exception:  # any failure to reach the database means not ready
            ready = False
        if not ready:
            return JSONResponse({"status": "unavailable"}, status_code=503)
        return JSONResponse({"status": "ready"})

    return endpoint
