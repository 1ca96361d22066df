"""The middleware that runs the hot mutations (addMailServer, changeMailServer) without Strawberry.

A POST whose document compiles to a plan (api/mutation_plans.py), from an
admin, has its input made and its command run exactly as the resolver would
(api/mutations.py: the same input object, request, fingerprint and service
call, so an idempotent retry is recognised whichever path ran the first), and
its answer written by the plan. A plan answers only for an outcome ("ok" or
"errors") after Strawberry answered the same document with that outcome and the
plan, given the outcome Strawberry's resolver saw, wrote the same bytes. Until
then, and for everything else (other operations, non-admins, variables or
inputs GraphQL refuses), the request goes on to the app unchanged; after an
unexpected failure it goes on with that failure, which the resolver reports
instead of running the command again. A rejected command writes nothing, so one the plan may not answer yet
is simply run again by Strawberry.

Like api/fast_reads.py it gives its answer what the inner layers would have: the
same X-Request-ID, CORS headers, response count, metrics, and one log line that
stands for both the access line and the operation line."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api import request_state
from api.cors import CorsHeaders
from api.errors import language
from api.fast_reads import MAX_RECOGNISED_BODY, read_body, replayed
from api.http import accepts_graphql_response
from api.logs import REQUEST_ID
from api.mutation_plans import MutationPlan, MutationPlans, UnusableRequestError
from api.mutations import Result, attempt, localized, request_for, user_errors
from api.observer import record_operation
from api.request_id import correlation_id_for, request_id_for
from api.services import Services

log = logging.getLogger("mailreg.graphql")

_KEYS = frozenset({"query", "variables", "operationName"})
# The headers read here, and where each goes in the unpacking below.
_HEADER_NAMES = (b"content-type", b"authorization", b"accept", b"accept-language", b"content-length", b"origin")
_HEADERS = {name: index for index, name in enumerate((*_HEADER_NAMES, b"x-request-id"))}
_MEDIA = {
    True: b"application/graphql-response+json; charset=utf-8",
    False: b"application/json; charset=utf-8",
}


class FastMutations:
    """Answers addMailServer and changeMailServer from their compiled plans (see the module)."""

    def __init__(self, app: ASGIApp, services: Services, cors: CorsHeaders, path: str = "/graphql") -> None:
        self.app = app
        self.services = services
        self.cors = cors
        self.path = path
        self.plans = MutationPlans()
        self.answered = services.metrics.response(path, "200")
        self._media: dict[bytes | None, bytes] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != self.path or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        # The first of each header, as the inner layers read them (starlette's Headers.get).
        found: list[bytes | None] = [None] * len(_HEADERS)
        for name, value in scope["headers"]:
            index = _HEADERS.get(name)
            if index is not None and found[index] is None:
                found[index] = value
        content_type, authorization, accept, accept_language, length, origin, given_id = found
        if (
            content_type is None
            or content_type.split(b";")[0].strip().lower() != b"application/json"
            or (length is not None and (not length.isdigit() or int(length) > MAX_RECOGNISED_BODY))
        ):
            await self.app(scope, receive, send)  # the request guard answers, or it is too large to be planned
            return
        read = await read_body(receive)
        if read is None:
            return  # the client went away
        payload, rest = read
        if rest:
            await self.app(scope, replayed(payload, receive, more=True), send)
            return
        body = _mutation_body(payload)
        if body is None:
            await self.app(scope, replayed(payload, receive), send)
            return
        services = self.services
        verifier = services.verifier
        if verifier.jwks_client is not None:
            await verifier.fetch_keys(_text(authorization))
        principal = verifier.principal(_text(authorization))
        # Only an admin's document is compiled: others' are refused by Strawberry, and cost no plan.
        plan = self.plans.get(body["query"], body.get("operationName")) if principal and principal.is_admin else None
        if plan is None or plan.refused or principal is None:
            await self.app(scope, replayed(payload, receive), send)
            return
        if "ok" not in plan.proven:
            await self._strawberry(plan, scope, payload, receive, send, accept_language)
            return
        try:
            input = plan.input(body.get("variables") or {})
        except UnusableRequestError:
            await self.app(scope, replayed(payload, receive), send)
            return
        given = _text(given_id)
        request_id = request_id_for(given)
        # Kept for the inner layers too: a request handed on after its attempt keeps the id its lines were logged under.
        request_state.set_request_ids(scope, request_id, correlation_id_for(given))
        REQUEST_ID.set(request_id)
        command, respond = plan.command(input)
        request = request_for(plan.field_name, input, principal.subject, correlation_id_for(given))
        try:
            result = await attempt(services, command, request, respond)
        except Exception as error:
            # No outcome (e.g. the database is away; the commit may even have happened): Strawberry answers
            # with its masked error, its resolver raising this one instead of running the command again.
            request_state.set_mutation_failure(scope, error)
            await self.app(scope, replayed(payload, receive), send)
            return
        if result.problems and "errors" not in plan.proven:
            await self._strawberry(plan, scope, payload, receive, send, accept_language)  # nothing was written
            return
        lang = language(_text(accept_language))
        answer = plan.render(result.response, user_errors(services, result.problems, lang))
        cors = self.cors.known(origin)
        if cors is None:
            cors = await self.cors(origin)
        # The headers in the order the inner layers give them: the answer's, the request id's, CORS's.
        headers = [
            (b"content-length", str(len(answer)).encode()),
            (b"content-type", self._media_of(accept)),
            (b"x-request-id", request_id.encode("latin-1")),
            *cors,
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": answer})
        self.answered.inc()
        record_operation(
            services.metrics,
            operation=plan.field_name,
            outcome="ok",
            elapsed=time.perf_counter() - started,
            request_id=request_id,
            principal=principal,
            http=("POST", self.path, 200),
        )

    def _media_of(self, accept: bytes | None) -> bytes:
        media = self._media.get(accept)
        if media is None:
            media = _MEDIA[accepts_graphql_response(_text(accept))]
            if len(self._media) < 64:  # any Accept may be sent: remember only the first few
                self._media[accept] = media
        return media

    async def _strawberry(
        self,
        plan: MutationPlan,
        scope: Scope,
        payload: bytes,
        receive: Receive,
        send: Send,
        accept_language: bytes | None,
    ) -> None:
        """Let Strawberry answer; for a plan, note what its resolver's command came to and compare answers."""
        witness: list[tuple[str, Result]] = []
        request_state.set_mutation_witness(scope, witness)
        status = 0
        chunks: list[bytes] = []

        async def keep(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
            await send(message)

        await self.app(scope, replayed(payload, receive), keep)
        if status != 200 or len(witness) != 1 or witness[0][0] != plan.field_name:
            return
        result = witness[0][1]
        outcome = "errors" if result.problems else "ok"
        if outcome in plan.proven:
            return
        lang = language(_text(accept_language))
        if plan.render(result.response, localized(result.problems, lang)) == b"".join(chunks):
            plan.proven.add(outcome)
        else:
            plan.refused = True
            log.warning("a mutation plan's answer differed from GraphQL's; GraphQL keeps answering it")


def _mutation_body(payload: bytes) -> dict[str, Any] | None:
    """A request body that may hold a mutation and names nothing beyond a document, its operation and variables."""
    if b"mutation" not in payload:  # reads pass on without being decoded here
        return None
    try:
        body = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(body, dict) or not body.keys() <= _KEYS:
        return None
    document, name, variables = body.get("query"), body.get("operationName"), body.get("variables")
    if not isinstance(document, str) or not isinstance(name, str | None) or not isinstance(variables, dict | None):
        return None
    return body


def _text(value: bytes | None) -> str | None:
    return None if value is None else value.decode("latin-1")
