"""The cached-read path: requests that ran cleanly before are answered without GraphQL while they can be.

Such a request is answered from the whole-response cache while the log stands
still, and after a change by its compiled plan (api/read_plans.py), which
reuses every server's part that did not change. A plan is trusted only once
its answer equalled Strawberry's own, byte for byte, for the same request and
list; requests without a plan run through GraphQL and have their answer cached."""

from __future__ import annotations

import asyncio
import json
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from api import request_state
from api.cache import Operation, ResponseCache
from api.read_plans import NotCompilableError, ReadPlan, compile_plan
from api.services import Services
from events.application.service import CurrentList

log = logging.getLogger("mailreg.graphql")

MAX_KNOWN = 1024
MAX_PLANS = 32
_PLANNED_FIELDS = frozenset({"mailServers", "mailServer", "mailServerChoices", "__typename"})


def _clean(response: Response) -> bool:
    return response.status_code == 200 and b'"errors"' not in response.body


@dataclass(frozen=True, slots=True)
class PlanSource:
    """What a plan is compiled from; requests that differ only in headers or role share one plan."""

    document: str
    operation_name: str | None
    variables: str  # canonical JSON

    def compile(self) -> ReadPlan:
        """The plan (deterministic: the same source always compiles to the same plan)."""
        return compile_plan(self.document, self.operation_name, json.loads(self.variables))


class Plans:
    """Compiled plans with their kept parts, the most recently used MAX_PLANS of them: memory stays bounded
    however many distinct documents are sent; an evicted plan is compiled again when its request returns."""

    def __init__(self) -> None:
        self.plans: OrderedDict[PlanSource, ReadPlan] = OrderedDict()

    def get(self, source: PlanSource) -> ReadPlan:
        """The plan of this source, compiled again if it was evicted."""
        plan = self.plans.get(source)
        if plan is None:
            plan = self.plans[source] = source.compile()
        else:
            self.plans.move_to_end(source)
        while len(self.plans) > MAX_PLANS:
            self.plans.popitem(last=False)
        return plan


@dataclass(frozen=True, slots=True)
class KnownRead:
    """A request that ran cleanly: its operation's label, the media type of its answer, and its plan if it has one."""

    operation: str
    media: bytes
    plan: PlanSource | None


class CachedReads:
    """The requests known to run cleanly, the answers at the log's current position, and how to make new ones."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.cache = ResponseCache()
        self.known: OrderedDict[Hashable, KnownRead] = OrderedDict()
        self.plans = Plans()
        self._first_runs: dict[Hashable, asyncio.Future[None]] = {}

    def known_read(self, key: Hashable) -> KnownRead | None:
        """What is known of the request with this key, if it ran cleanly before."""
        return self.known.get(key)

    async def after_first_run(self, key: Hashable) -> KnownRead | None:
        """What is known of the request once the first GraphQL run of its key, if one is under way, ends:
        a burst of identical new requests then costs one GraphQL run, not one each."""
        running = self._first_runs.get(key)
        if running is not None:
            await asyncio.shield(running)
        return self.known.get(key)

    async def without_graphql(self, key: Hashable, known: KnownRead) -> bytes | None:
        """The answer at the log's position (read after this call began): cached, or made by the plan;
        None when only GraphQL can make it."""
        mail_servers = self.services.mail_servers
        position = await mail_servers.checkpoint.position()
        body = self.cache.get(position, key)
        if body is not None or known.plan is None:
            return body
        current = await mail_servers.current_since(position)
        body = self.plans.get(known.plan).render(current.server_list)
        self.cache.put(current.position, key, body)
        return body

    async def answer(
        self, request: Request, body: dict[str, Any], operation: Operation, run: Callable[[], Awaitable[Response]]
    ) -> Response:
        """Run the query through GraphQL; remember a clean answer (and the request, with its plan)."""
        key = request_state.read_key(request.scope)
        if key is None:
            return await run()
        position: int | None = None
        if key in self.known:  # seen before, so worth caching: its answer will be kept under this position
            try:
                position = await self.services.mail_servers.checkpoint.position()
            except Exception:  # e.g. the database is away: let GraphQL answer with its masked error
                return await run()
        first = key not in self.known and key not in self._first_runs
        if first:
            self._first_runs[key] = asyncio.get_running_loop().create_future()
        try:
            response = await run()
        finally:
            if first:
                self._first_runs.pop(key).set_result(None)
        if not _clean(response):
            return response
        current = request_state.current_list(request.scope)
        answer = bytes(response.body)
        if key not in self.known:
            self._learn(key, body, operation, response, current)
        at = current.position if current is not None else position
        if at is not None:
            self.cache.put(at, key, answer)
        return response

    def _learn(
        self, key: Hashable, body: dict[str, Any], operation: Operation, response: Response, current: CurrentList | None
    ) -> None:
        source = None
        if current is not None and set(operation.root_fields) <= _PLANNED_FIELDS:
            try:
                source = PlanSource(
                    str(body["query"]),
                    body.get("operationName"),
                    json.dumps(body.get("variables") or {}, sort_keys=True, separators=(",", ":")),
                )
                if self.plans.get(source).render(current.server_list) != response.body:
                    log.warning("a read plan's answer differed from GraphQL's; GraphQL keeps answering it")
                    source = None
            except (NotCompilableError, TypeError, ValueError):
                source = None
        media = response.headers.get("content-type", "application/json").encode("latin-1")
        self.known[key] = KnownRead(",".join(operation.root_fields), media, source)
        if len(self.known) > MAX_KNOWN:
            self.known.popitem(last=False)
