"""Keeps each websocket's own send callable (the server's) in its scope.

Fan-out writes one frame per subscriber per event; the wrappers that the
layers in between put around send add nothing to a websocket frame, yet cost
as much as the write itself (api/outbox.py uses the kept callable)."""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from api import request_state


class KeepServerSend:
    """The outermost middleware: for websockets, keeps the server's send in the scope."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            request_state.set_server_send(scope, send)
        await self.app(scope, receive, send)
