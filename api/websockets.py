"""The websocket side of /graphql: who may connect, the close at token expiry, and goodbye at shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator

from starlette.websockets import WebSocket
from strawberry.exceptions import ConnectionRejectionError

from api.context import Context

TOKEN_EXPIRED = 4403
GOING_AWAY = 1001


class OpenWebSockets:
    """The websockets open right now, so that a shutdown can say goodbye (1001) to each."""

    def __init__(self) -> None:
        self._open: set[WebSocket] = set()

    @contextlib.contextmanager
    def held(self, websocket: WebSocket) -> Iterator[None]:
        """Count the websocket as open while the block runs."""
        self._open.add(websocket)
        try:
            yield
        finally:
            self._open.discard(websocket)

    async def close_all(self) -> None:
        """Close every open websocket with 1001 (going away)."""
        for websocket in list(self._open):
            with contextlib.suppress(Exception):
                await websocket.close(GOING_AWAY, "server shutting down")


def admit(context: Context) -> None:
    """Admit a connection whose connection_init carries a valid token, and close it
    with 4403 when that token expires; refuse any other."""
    params: dict[str, object] = context.connection_params or {}
    authorization = params.get("authorization") or params.get("Authorization")
    context.authenticate(authorization if isinstance(authorization, str) else None, context.services.verifier)
    principal = context.principal
    if principal is None:
        raise ConnectionRejectionError()
    websocket = context.request
    if principal.expires_at is not None and isinstance(websocket, WebSocket):

        async def expire() -> None:
            with contextlib.suppress(Exception):
                await websocket.close(TOKEN_EXPIRED, "token expired")

        delay = max(0.0, principal.expires_at - time.time())
        asyncio.get_running_loop().call_later(delay, lambda: asyncio.ensure_future(expire()))
