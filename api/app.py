"""The Starlette application: GraphQL over HTTP and websockets, health, readiness, metrics."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any, cast

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http import GraphQLHTTPResponse
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types import ExecutionResult
from strawberry.types.execution import PreExecutionError
from strawberry.types.unset import UNSET, UnsetType

from api.auth import TokenVerifier
from api.cache import ResponseCache, cache_key, operation_of
from api.config import Config
from api.context import Context
from api.errors import language
from api.http import GRAPHQL_RESPONSE, GraphQLRequestGuard, accepts_graphql_response
from api.logs import RequestId
from api.metrics import Metrics
from api.schema import schema
from api.services import Services
from events import migrate
from events.database import create_engine
from events.feed import EventFeed
from events.history import History, SnapshotWriter
from events.registry import MailServerRegistry

log = logging.getLogger("mailreg.graphql")

TOKEN_EXPIRED = 4403
GOING_AWAY = 1001


async def _body(request: Request) -> dict[str, Any] | None:
    """The GraphQL request of a POST (already checked as a JSON object) or a GET."""
    if request.method == "POST":
        body = request.scope.get("state", {}).get("graphql_body")  # decoded by GraphQLRequestGuard
        return body if isinstance(body, dict) else None
    if request.method == "GET" and "query" in request.query_params:
        query: dict[str, Any] = dict(request.query_params)
        try:
            query["variables"] = json.loads(query.get("variables") or "{}")
        except ValueError:
            return None
        return query
    return None


def _refusal(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse({"errors": [{"message": message}]}, status_code=status, headers=headers)


def _clean(response: Response) -> bool:
    return response.status_code == 200 and b'"errors"' not in response.body


def _has_path(result: ExecutionResult) -> bool:
    return any(error.path for error in result.errors or ())


class GraphQLApp(GraphQL[Context, None]):
    def __init__(self, services: Services) -> None:
        super().__init__(
            schema,
            graphql_ide="graphiql",
            allow_queries_via_get=True,
            subscription_protocols=[GRAPHQL_TRANSPORT_WS_PROTOCOL],
            connection_init_wait_timeout=timedelta(seconds=10),
            max_subscriptions_per_connection=100,
        )
        self.services = services
        self.websockets: set[WebSocket] = set()
        self.cache = ResponseCache()

    async def run(self, request: Any, context: Any = UNSET, root_value: Any = UNSET) -> Any:
        if not isinstance(request, WebSocket):
            return await self._cached(request, context, root_value)
        self.websockets.add(request)
        try:
            return await super().run(request, context, root_value)
        finally:
            self.websockets.discard(request)

    async def _cached(self, request: Request, context: Any, root_value: Any) -> Any:
        """Refuse what only GraphQL over websockets may do, and serve a repeated
        read from the response cache (see api/cache.py)."""
        body = await _body(request)
        operation = operation_of(body) if body is not None else None
        if operation is not None and operation.kind == "subscription":
            return _refusal(400, "Subscriptions are served over websockets (graphql-transport-ws) at /graphql.")
        if operation is not None and operation.kind == "mutation" and request.method == "GET":
            return _refusal(405, "Mutations must be sent with POST.", {"allow": "POST"})
        if body is None or operation is None or operation.kind != "query":
            return await super().run(request, context, root_value)
        principal = self.services.verifier.principal(request.headers.get("authorization"))
        request.state.principal = principal  # get_context reuses it: one verification per request
        role = "anonymous" if principal is None else ("admin" if principal.is_admin else "user")
        media = GRAPHQL_RESPONSE if accepts_graphql_response(request.headers.get("accept")) else "application/json"
        key = cache_key(body, role=role, lang=language(request.headers.get("accept-language")), media=media)
        if not self.cache.is_known(key):
            response = await super().run(request, context, root_value)
            if _clean(response):
                self.cache.learn(key)
            return response
        started = time.perf_counter()
        try:
            snapshot = await self.services.registry.current()
        except Exception:  # e.g. the database is away: let GraphQL answer with its masked error
            return await super().run(request, context, root_value)
        request.state.snapshot = snapshot
        cached = self.cache.get(snapshot.position, key)
        if cached is None:
            response = await super().run(request, context, root_value)
            if _clean(response):
                self.cache.put(snapshot.position, key, bytes(response.body))
            return response
        label = ",".join(operation.root_fields)
        elapsed = time.perf_counter() - started
        self.services.metrics.requests.labels(label, "ok").inc()
        self.services.metrics.latency.labels(label).observe(elapsed)
        log.info(
            "graphql %s ok (cached)",
            label,
            extra={
                "request_id": request.scope.get("state", {}).get("request_id"),
                "actor": principal.subject if principal else None,
                "operation": label,
                "outcome": "ok",
                "duration_ms": round(elapsed * 1000, 2),
            },
        )
        return Response(cached, media_type=f"{media}; charset=utf-8")

    async def close_websockets(self) -> None:
        """Say goodbye (1001) to every websocket, e.g. before shutting down."""
        for websocket in list(self.websockets):
            with contextlib.suppress(Exception):
                await websocket.close(GOING_AWAY, "server shutting down")

    async def get_context(self, request: Request | WebSocket, response: Any) -> Context:
        state = request.scope.get("state", {})
        context = Context(
            services=self.services,
            request=request,
            response=response,
            lang=language(request.headers.get("accept-language")),
            request_id=state.get("request_id") or uuid.uuid4().hex,
            correlation_id=state.get("correlation_id"),
        )
        if isinstance(request, Request):
            if hasattr(request.state, "principal"):
                context.principal = request.state.principal
            else:
                context.authenticate(request.headers.get("authorization"), self.services.verifier)
            response.graphql_response_media = accepts_graphql_response(request.headers.get("accept"))
        return context

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        params: dict[str, object] = context.connection_params or {}
        authorization = params.get("authorization") or params.get("Authorization")
        context.authenticate(authorization if isinstance(authorization, str) else None, self.services.verifier)
        principal = context.principal
        if principal is None:
            raise ConnectionRejectionError()
        if principal.expires_at is not None:
            websocket: WebSocket = context.request

            async def expire() -> None:
                with contextlib.suppress(Exception):
                    await websocket.close(TOKEN_EXPIRED, "token expired")

            delay = max(0.0, principal.expires_at - time.time())
            asyncio.get_running_loop().call_later(delay, lambda: asyncio.ensure_future(expire()))
        return cast(UnsetType, UNSET)

    async def process_result(self, request: Request, result: ExecutionResult) -> GraphQLHTTPResponse:
        processed = await super().process_result(request, result)
        if isinstance(result, PreExecutionError) or (result.data is None and not _has_path(result)):
            # A request error (parse, validation, variable coercion): per
            # GraphQL over HTTP there is no `data` entry at all.
            processed.pop("data", None)
        return processed

    def create_response(self, response_data: Any, sub_response: Response) -> Response:
        response = super().create_response(response_data, sub_response)
        if getattr(sub_response, "graphql_response_media", False):
            response.headers["content-type"] = f"{GRAPHQL_RESPONSE}; charset=utf-8"
            if isinstance(response_data, dict) and "data" not in response_data:
                response.status_code = 400
        else:
            response.headers["content-type"] = "application/json; charset=utf-8"
        return response


def build_verifier(config: Config) -> TokenVerifier:
    secret, _ = config.secret(create=False)
    return TokenVerifier.configured(
        secret=secret,
        public_key_file=config.jwt_public_key_file,
        jwks_file=config.jwt_jwks_file,
        issuer=config.jwt_issuer,
        audience=config.jwt_audience,
    )


def create_app(config: Config) -> Starlette:
    """The app; its lifespan opens the engine and the live feed, and closes them."""
    engine = create_engine(config.database_url)
    metrics = Metrics()

    def observe(newest: datetime) -> None:
        metrics.notification_lag.observe(max(0.0, time.time() - newest.timestamp()))

    feed = EventFeed(engine, caught_up=observe)

    def committed(recorded: Any) -> None:
        metrics.appended(recorded)
        feed.wake()

    services = Services(
        engine=engine,
        registry=MailServerRegistry(engine, on_commit=committed),
        verifier=build_verifier(config),
        history=History(engine),
        feed=feed,
        metrics=metrics,
    )
    graphql = GraphQLApp(services)
    writer = SnapshotWriter(engine)

    async def healthz(_: Request) -> Response:
        return PlainTextResponse("ok")

    async def readyz(_: Request) -> Response:
        try:
            ready = await asyncio.wait_for(migrate.is_current(engine), 4)
        except Exception:  # any failure to reach the database means not ready
            ready = False
        if not ready:
            return JSONResponse({"status": "unavailable"}, status_code=503)
        return JSONResponse({"status": "ready"})

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        await feed.start()
        await writer.start()
        try:
            yield
        finally:
            await writer.stop()
            await graphql.close_websockets()
            await feed.stop()
            await engine.dispose()

    app = Starlette(
        routes=[
            Route("/graphql", GraphQLRequestGuard(graphql), methods=["GET", "POST"]),
            WebSocketRoute("/graphql", graphql),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/metrics", metrics.endpoint),
        ],
        lifespan=lifespan,
    )
    app.add_middleware(RequestId)
    app.state.services = services
    app.state.graphql = graphql
    return app
