"""Which other origins may call the API from a browser over HTTP (CORS); the websocket
handshake's Origin check is Strawberry's, given the same list (see GraphQLApp)."""

from __future__ import annotations

from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp

# The headers a browser client of /graphql sends, and the one it may read back.
_REQUEST_HEADERS = ["authorization", "content-type", "accept", "accept-language", "x-request-id"]
_EXPOSED_HEADERS = ["x-request-id"]


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
