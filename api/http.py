"""HTTP edges of /graphql: body limits, JSON checks, GraphQL-over-HTTP media types."""

from __future__ import annotations

import json
from typing import Any

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_BODY_BYTES = 1024 * 1024
GRAPHQL_RESPONSE = "application/graphql-response+json"


def accepts_graphql_response(accept: str | None) -> bool:
    """Whether to answer with application/graphql-response+json: when the client
    ranks it at least as high as application/json, or sends no Accept at all
    (GraphQL over HTTP, after its 2025 watershed)."""
    if accept is None or not accept.strip():
        return True
    ranks = {GRAPHQL_RESPONSE: -1.0, "application/json": -1.0}
    for part in accept.split(","):
        media, *params = (p.strip() for p in part.split(";"))
        media = media.lower()
        if media not in ranks:
            continue
        q = next((p[2:] for p in params if p.startswith("q=")), "1")
        try:
            ranks[media] = max(ranks[media], float(q))
        except ValueError:
            continue
    return ranks[GRAPHQL_RESPONSE] > 0 and ranks[GRAPHQL_RESPONSE] >= ranks["application/json"]


def _error(status: int, message: str, code: str) -> JSONResponse:
    return JSONResponse({"errors": [{"message": message, "extensions": {"code": code}}]}, status_code=status)


class GraphQLRequestGuard:
    """Refuses, before any GraphQL work: bodies over 1 MiB (413, while reading,
    not after buffering all of it), POSTs that are not JSON (415), invalid JSON
    (400) and batched arrays (400)."""

    def __init__(self, app: ASGIApp, path: str = "/graphql") -> None:
        self.app = app
        self.path = path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != self.path or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        length = headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > MAX_BODY_BYTES:
            await _error(413, "Request body is larger than 1 MiB.", "PAYLOAD_TOO_LARGE")(scope, receive, send)
            return
        media = headers.get("content-type", "").split(";")[0].strip().lower()
        if media != "application/json":
            await _error(415, "POST bodies must be application/json.", "UNSUPPORTED_MEDIA_TYPE")(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                await _error(413, "Request body is larger than 1 MiB.", "PAYLOAD_TOO_LARGE")(scope, receive, send)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        try:
            document: Any = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            await _error(400, "The request body is not valid JSON.", "BAD_REQUEST")(scope, receive, send)
            return
        if isinstance(document, list):
            await _error(400, "Batched requests are not supported.", "BAD_REQUEST")(scope, receive, send)
            return
        if not isinstance(document, dict):
            await _error(400, "The request body must be a JSON object.", "BAD_REQUEST")(scope, receive, send)
            return

        # Later stages read the decoded document from here instead of decoding again.
        scope.setdefault("state", {})["graphql_body"] = document
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)
