"""The middleware in front of POST /graphql: body size, media type and JSON shape, before any GraphQL work."""

from __future__ import annotations

import json
from typing import Any

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api import request_state
from api.errors import language
from api.i18n import translate
from api.limits import MAX_BODY_BYTES

_TOO_LARGE = f"Request body is larger than {MAX_BODY_BYTES // (1024 * 1024)} MiB."


def _error(status: int, message: str, code: str, lang: str = "en") -> JSONResponse:
    localized = translate(message, lang)
    return JSONResponse({"errors": [{"message": localized, "extensions": {"code": code}}]}, status_code=status)


class GraphQLRequestGuard:
    """Refuses, before any GraphQL work: bodies over MAX_BODY_BYTES (413, while reading,
    not after buffering all of it), POSTs that are not JSON (415), invalid JSON
    (400) and batched arrays (400); keeps the decoded body for later stages."""

    def __init__(self, app: ASGIApp, path: str = "/graphql") -> None:
        self.app = app
        self.path = path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != self.path or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        lang = language(headers.get("accept-language"))
        length = headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > MAX_BODY_BYTES:
            await _error(413, _TOO_LARGE, "PAYLOAD_TOO_LARGE", lang)(scope, receive, send)
            return
        media = headers.get("content-type", "").split(";")[0].strip().lower()
        if media != "application/json":
            await _error(415, "POST bodies must be application/json.", "UNSUPPORTED_MEDIA_TYPE", lang)(
                scope, receive, send
            )
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
                await _error(413, _TOO_LARGE, "PAYLOAD_TOO_LARGE", lang)(scope, receive, send)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        try:
            document: Any = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            await _error(400, "The request body is not valid JSON.", "BAD_REQUEST", lang)(scope, receive, send)
            return
        if isinstance(document, list):
            await _error(400, "Batched requests are not supported.", "BAD_REQUEST", lang)(scope, receive, send)
            return
        if not isinstance(document, dict):
            await _error(400, "The request body must be a JSON object.", "BAD_REQUEST", lang)(scope, receive, send)
            return

        request_state.set_body(scope, document)
        sent = False

        async def resend() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, resend, send)
