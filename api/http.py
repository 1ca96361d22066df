"""GraphQL over HTTP: the request's GraphQL document, the media type of the answer, and what HTTP may not do."""

from __future__ import annotations

import json
from typing import Any

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from api import request_state
from api.cache import Operation
from api.i18n import translate

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


def response_media(headers: Headers) -> str:
    """The media type (without charset) of this request's GraphQL answer."""
    return GRAPHQL_RESPONSE if accepts_graphql_response(headers.get("accept")) else "application/json"


def graphql_body(request: Request) -> dict[str, Any] | None:
    """The GraphQL request of a POST (already checked as a JSON object) or a GET."""
    if request.method == "POST":
        return request_state.body(request.scope)
    if request.method == "GET" and "query" in request.query_params:
        query: dict[str, Any] = dict(request.query_params)
        try:
            query["variables"] = json.loads(query.get("variables") or "{}")
        except ValueError:
            return None
        return query
    return None


def _refusal(status: int, message: str, lang: str, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse({"errors": [{"message": translate(message, lang)}]}, status_code=status, headers=headers)


def refusal(method: str, operation: Operation | None, lang: str = "en") -> Response | None:
    """The answer to an operation HTTP does not serve: subscriptions at all, mutations over GET."""
    if operation is not None and operation.kind == "subscription":
        return _refusal(400, "Subscriptions are served over websockets (graphql-transport-ws) at /graphql.", lang)
    if operation is not None and operation.kind == "mutation" and method == "GET":
        return _refusal(405, "Mutations must be sent with POST.", lang, {"allow": "POST"})
    return None
