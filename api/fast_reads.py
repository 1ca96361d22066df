"""The outermost middleware: it answers repeated reads before routing, Strawberry or any JSON parsing.

A request is recognised by its raw bytes (method, body or query string, content
type, Accept, Accept-Language) and its caller's role class; one that ran
cleanly before is answered by api/cached_reads.py from the whole-response
cache or its compiled plan. Everything else, and anything that fails here,
goes on to the app unchanged, with the request's cache key in its state.

It sits outside the request-id and CORS middleware so that a cached answer
does not pay for their layers, and so it gives that answer what they would
have: the same X-Request-ID, the same CORS headers (api/cors.py's CorsHeaders),
the response count, and one log line that stands for both the access line and
the operation line."""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api import request_state
from api.cached_reads import CachedReads
from api.cors import CorsHeaders
from api.observer import record_operation
from api.request_id import request_id_for

MAX_RECOGNISED_BODY = 64 * 1024
"""Larger bodies are never fast reads; they go on unread to the request guard and its limits."""


class FastReads:
    """Answers GraphQL reads that ran cleanly before without running GraphQL (see the module)."""

    def __init__(self, app: ASGIApp, reads: CachedReads, cors: CorsHeaders, path: str = "/graphql") -> None:
        self.app = app
        self.reads = reads
        self.cors = cors
        self.path = path
        self.answered = reads.services.metrics.response(path, "200")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != self.path or scope["method"] not in ("GET", "POST"):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        content_type = accept = accept_language = b""
        authorization: str | None = None
        origin: bytes | None = None
        given_id: bytes | None = None
        length = 0
        for name, value in scope["headers"]:
            if name == b"content-type":
                content_type = value
            elif name == b"authorization":
                authorization = value.decode("latin-1")
            elif name == b"accept":
                accept = value
            elif name == b"accept-language":
                accept_language = value
            elif name == b"content-length":
                length = int(value) if value.isdigit() else MAX_RECOGNISED_BODY + 1
            elif name == b"origin" and origin is None:
                origin = value
            elif name == b"x-request-id" and given_id is None:
                given_id = value
        if scope["method"] == "GET":
            payload: bytes = scope["query_string"]
        elif length > MAX_RECOGNISED_BODY:
            await self.app(scope, receive, send)
            return
        else:
            read = await read_body(receive)
            if read is None:
                return  # the client went away
            payload, rest = read
            if rest:  # too large to be a fast read: the guard sees every byte, as sent
                await self.app(scope, replayed(payload, receive, more=True), send)
                return
        verifier = self.reads.services.verifier
        if verifier.jwks_client is not None:
            # A key from a JWKS URL is fetched first (off the loop), so that its caller is not taken for anonymous.
            await verifier.fetch_keys(authorization)
        principal = verifier.principal(authorization)
        role = "anonymous" if principal is None else ("admin" if principal.is_admin else "user")
        key = (scope["method"], payload, content_type, role, accept, accept_language)
        known = self.reads.known_read(key) or await self.reads.after_first_run(key)
        answer = None
        if known is not None:
            try:
                answer = await self.reads.without_graphql(key, known)
            except Exception:  # e.g. the database is away: GraphQL answers with its masked error
                answer = None
        if answer is None or known is None:
            request_state.set_read_key(scope, key)
            await self.app(scope, receive if scope["method"] == "GET" else replayed(payload, receive), send)
            return
        cors = self.cors.known(origin)
        if cors is None:
            cors = await self.cors(origin)
        # The headers in the order the inner layers give them: the answer's, the request id's, CORS's.
        request_id = request_id_for(None if given_id is None else given_id.decode("latin-1"))
        headers = [
            (b"content-length", str(len(answer)).encode()),
            (b"content-type", known.media),
            (b"x-request-id", request_id.encode("latin-1")),
            *cors,
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": answer})
        self.answered.inc()
        record_operation(
            self.reads.services.metrics,
            operation=known.operation,
            outcome="ok",
            elapsed=time.perf_counter() - started,
            request_id=request_id,
            principal=principal,
            cached=True,
            http=(scope["method"], self.path, 200),
        )


async def read_body(receive: Receive) -> tuple[bytes, bool] | None:
    """The body (up to MAX_RECOGNISED_BODY and a chunk), and whether more remains unread; None on disconnect."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        more = bool(message.get("more_body", False))
        if not more or size > MAX_RECOGNISED_BODY:
            return b"".join(chunks), more


def replayed(body: bytes, receive: Receive, *, more: bool = False) -> Receive:
    """`receive`, giving the bytes already read first (and then any that remain)."""
    given = False

    async def replayed() -> Message:
        nonlocal given
        if not given:
            given = True
            return {"type": "http.request", "body": body, "more_body": more}
        return await receive()

    return replayed
