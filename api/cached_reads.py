"""The cached-read path: a repeated query answered from the response cache while the log stands still."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from api import request_state
from api.cache import Operation, ResponseCache, cache_key
from api.errors import language
from api.http import response_media
from api.observer import record_operation
from api.services import Services


def _clean(response: Response) -> bool:
    return response.status_code == 200 and b'"errors"' not in response.body


class CachedReads:
    """Serves a query that ran cleanly before from the cache of answers at the log's
    current position, and runs it (then remembers the answer) otherwise."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.cache = ResponseCache()

    async def answer(
        self, request: Request, body: dict[str, Any], operation: Operation, run: Callable[[], Awaitable[Response]]
    ) -> Response:
        """The cached answer to the query, or the one `run` gives."""
        principal = request_state.principal(request, self.services.verifier)
        role = "anonymous" if principal is None else ("admin" if principal.is_admin else "user")
        media = response_media(request.headers)
        key = cache_key(body, role=role, lang=language(request.headers.get("accept-language")), media=media)
        if not self.cache.is_known(key):
            response = await run()
            if _clean(response):
                self.cache.learn(key)
            return response
        started = time.perf_counter()
        try:
            current = await self.services.mail_servers.current()
        except Exception:  # e.g. the database is away: let GraphQL answer with its masked error
            return await run()
        request_state.set_current_list(request.scope, current)
        cached = self.cache.get(current.position, key)
        if cached is None:
            response = await run()
            if _clean(response):
                self.cache.put(current.position, key, bytes(response.body))
            return response
        record_operation(
            self.services.metrics,
            operation=",".join(operation.root_fields),
            outcome="ok",
            elapsed=time.perf_counter() - started,
            request_id=request_state.request_id(request.scope),
            principal=principal,
            cached=True,
        )
        return Response(cached, media_type=f"{media}; charset=utf-8")
