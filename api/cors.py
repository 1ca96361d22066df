"""Which other origins may call the API from a browser over HTTP (CORS); the websocket
handshake's Origin check is Strawberry's, given the same list (see GraphQLApp)."""

from __future__ import annotations

from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# The headers a browser client of /graphql sends, and the one it may read back.
_REQUEST_HEADERS = ["authorization", "content-type", "accept", "accept-language", "x-request-id"]
_EXPOSED_HEADERS = ["x-request-id"]
_ORIGINS_KEPT = 64


def cors(app: ASGIApp, origins: tuple[str, ...]) -> ASGIApp:
    """The app behind CORS for the allowed origins; with none (the default) every
    cross-origin preflight is refused with 400 and no answer carries CORS headers."""
    return CORSMiddleware(
        app,
        allow_origins=list(origins),
        allow_methods=["GET", "POST"],
        allow_headers=_REQUEST_HEADERS,
        expose_headers=_EXPOSED_HEADERS,
        max_age=600,
    )


class CorsHeaders:
    """The headers `cors` adds to an answer that has none of its own CORS or Vary headers, by the
    request's Origin: for answers sent outside that middleware (api/fast_reads.py, api/fast_mutations.py). They are the
    middleware's own, found by letting it answer a request from that origin once."""

    def __init__(self, origins: tuple[str, ...]) -> None:
        self._middleware = cors(_bare_answer, origins)
        self._known: dict[bytes | None, list[tuple[bytes, bytes]]] = {}

    def known(self, origin: bytes | None) -> list[tuple[bytes, bytes]] | None:
        """The headers for `origin` if they were found before (an empty list when there are none)."""
        return self._known.get(origin)

    async def __call__(self, origin: bytes | None) -> list[tuple[bytes, bytes]]:
        """The headers to append for a simple (not preflight) request from `origin` (None: no Origin header)."""
        known = self._known.get(origin)
        if known is not None:
            return known
        added: list[tuple[bytes, bytes]] = []

        async def keep(message: Message) -> None:
            added.extend(message["headers"])

        async def nothing() -> Message:
            return {"type": "http.request", "body": b"", "more_body": False}

        headers = [] if origin is None else [(b"origin", origin)]
        await self._middleware({"type": "http", "method": "POST", "headers": headers}, nothing, keep)
        if len(self._known) < _ORIGINS_KEPT:  # any origin may be sent: remember only the first few
            self._known[origin] = added
        return added


async def _bare_answer(_scope: Scope, _receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
