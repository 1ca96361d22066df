"""The middleware that gives every request an id, sends it back, and logs the request under it."""

from __future__ import annotations

import logging
import os
import time

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api import request_state
from api.logs import REQUEST_ID
from api.metrics import Metrics

log = logging.getLogger("mailreg.http")
_UNLOGGED_PATHS = ("/healthz", "/readyz", "/metrics")
# Paths counted by name; any other is "other", so that scanners cannot grow the label set.
_ROUTES = ("/graphql", *_UNLOGGED_PATHS)


# uuid.UUID(version=4)'s bits: version nibble 4 and variant 10 (RFC 9562), over 122 random ones.
_MASK = ~((0xF000 << 64) | (0xC000 << 48))
_VERSION = (4 << 76) | (0x8000 << 48)


def request_id_for(given: str | None) -> str:
    """The id of a request that sent X-Request-ID `given` (None: not sent): the caller's, or a new
    random one, as uuid.uuid4().hex spells it (made without a UUID object, a third of the cost)."""
    if given:
        return given[:200]
    bits = int.from_bytes(os.urandom(16))
    return f"{bits & _MASK | _VERSION:032x}"


def correlation_id_for(given: str | None) -> str | None:
    """The caller's own X-Request-ID `given`, as recorded with the events the request appends."""
    return given[:200] if given else None


class RequestId:
    """Takes X-Request-ID from the request (or makes one), hands it to the app
    through the request state, sends it back on the response, and logs the request."""

    def __init__(self, app: ASGIApp, metrics: Metrics | None = None) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        given = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"x-request-id"), None)
        # An outer layer that began serving this request (api/fast_mutations.py) may have named it already.
        request_id = request_state.request_id(scope) or request_id_for(given)
        request_state.set_request_ids(scope, request_id, correlation_id_for(given))
        REQUEST_ID.set(request_id)
        started = time.perf_counter()
        status = 0

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message)["x-request-id"] = request_id
            await send(message)

        try:
            # A websocket's messages carry no HTTP headers to add to; its frames
            # (thousands per event under fan-out) go straight through.
            await self.app(scope, receive, send_with_id if scope["type"] == "http" else send)
        finally:
            if scope["type"] == "http" and self.metrics is not None:
                path = scope["path"] if scope["path"] in _ROUTES else "other"
                self.metrics.response(path, str(status)).inc()
            if scope["type"] == "http" and scope["path"] not in _UNLOGGED_PATHS:
                log.info(
                    "%s %s %s",
                    scope["method"],
                    scope["path"],
                    status,
                    extra={
                        "request_id": request_id,
                        "method": scope["method"],
                        "path": scope["path"],
                        "status": status,
                        "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                    },
                )
