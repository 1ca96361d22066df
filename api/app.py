"""The Starlette application: GraphQL over HTTP and websockets, health and readiness."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.http import GraphQLHTTPResponse
from strawberry.types import ExecutionResult
from strawberry.types.execution import PreExecutionError
from strawberry.types.unset import UNSET, UnsetType

from api.auth import TokenVerifier
from api.config import Config
from api.context import Context
from api.errors import language
from api.http import GRAPHQL_RESPONSE, GraphQLRequestGuard, accepts_graphql_response
from api.schema import schema
from api.services import Services
from events import migrate
from events.database import create_engine
from events.feed import EventFeed
from events.history import History
from events.registry import MailServerRegistry


def _has_path(result: ExecutionResult) -> bool:
    return any(error.path for error in result.errors or ())


class GraphQLApp(GraphQL[Context, None]):
    def __init__(self, services: Services) -> None:
        super().__init__(
            schema,
            graphql_ide="graphiql",
            allow_queries_via_get=True,
            subscription_protocols=[GRAPHQL_TRANSPORT_WS_PROTOCOL],
        )
        self.services = services

    async def get_context(self, request: Request | WebSocket, response: Any) -> Context:
        request_id = request.headers.get("x-request-id")
        context = Context(
            services=self.services,
            request=request,
            response=response,
            lang=language(request.headers.get("accept-language")),
            request_id=request_id or uuid.uuid4().hex,
            correlation_id=request_id,
        )
        if isinstance(request, Request):
            context.authenticate(request.headers.get("authorization"), self.services.verifier)
            response.graphql_response_media = accepts_graphql_response(request.headers.get("accept"))
        return context

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
            response.headers["content-type"] = GRAPHQL_RESPONSE
            if isinstance(response_data, dict) and "data" not in response_data:
                response.status_code = 400
        return response

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        params = context.connection_params or {}
        authorization = params.get("authorization") or params.get("Authorization")
        context.authenticate(authorization if isinstance(authorization, str) else None, self.services.verifier)
        if context.principal is None:
            raise ConnectionRejectionError()
        return UNSET


def build_verifier(config: Config) -> TokenVerifier:
    secret, _ = config.secret(create=False)
    public_key = config.jwt_public_key_file.read_text() if config.jwt_public_key_file else None
    return TokenVerifier(secret=secret, public_key=public_key, issuer=config.jwt_issuer, audience=config.jwt_audience)


def create_app(config: Config) -> Starlette:
    """The app; its lifespan opens the engine and closes it."""
    engine = create_engine(config.database_url)
    feed = EventFeed(engine)
    services = Services(
        engine=engine,
        registry=MailServerRegistry(engine, on_commit=lambda _recorded: feed.wake()),
        verifier=build_verifier(config),
        history=History(engine),
        feed=feed,
    )
    graphql = GraphQLApp(services)

    async def healthz(_: Request) -> Response:
        return PlainTextResponse("ok")

    async def readyz(_: Request) -> Response:
        try:
            ready = await migrate.is_current(engine)
        except Exception:  # any failure to reach the database means not ready
            ready = False
        if not ready:
            return JSONResponse({"status": "unavailable"}, status_code=503)
        return JSONResponse({"status": "ready"})

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        await feed.start()
        try:
            yield
        finally:
            await feed.stop()
            await engine.dispose()

    app = Starlette(
        routes=[
            Route("/graphql", GraphQLRequestGuard(graphql), methods=["GET", "POST"]),
            WebSocketRoute("/graphql", graphql),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
        ],
        lifespan=lifespan,
    )
    app.state.services = services
    return app
