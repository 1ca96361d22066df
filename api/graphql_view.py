"""/graphql itself: GraphQL over HTTP and over graphql-transport-ws, on Strawberry's ASGI view."""

from __future__ import annotations

import functools
import uuid
from datetime import timedelta
from typing import Any, cast

from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types import ExecutionResult
from strawberry.types.execution import PreExecutionError
from strawberry.types.unset import UNSET, UnsetType

from api import graphiql_page, request_state
from api.cache import operation_of
from api.cached_reads import CachedReads
from api.context import Context
from api.errors import language
from api.http import GRAPHQL_RESPONSE, graphql_body, refusal, response_media
from api.i18n import localized
from api.live_handler import LiveHandler
from api.schema import schema
from api.services import Services
from api.websockets import OpenWebSockets, admit


def _has_path(result: ExecutionResult) -> bool:
    return any(error.path for error in result.errors or ())


class GraphQLApp(GraphQL[Context, None]):
    """Serves the schema at /graphql: queries (cached when repeated) and mutations over
    HTTP, subscriptions over graphql-transport-ws, each with its caller's context."""

    graphql_transport_ws_handler_class = LiveHandler

    def __init__(self, services: Services, *, allowed_origins: tuple[str, ...] = ()) -> None:
        super().__init__(
            schema,
            # Browsers apply no CORS to websockets: a page elsewhere is refused at the handshake (403).
            allowed_origins=allowed_origins,
            graphql_ide="graphiql",
            allow_queries_via_get=True,
            subscription_protocols=[GRAPHQL_TRANSPORT_WS_PROTOCOL],
            connection_init_wait_timeout=timedelta(seconds=10),
            max_subscriptions_per_connection=100,
        )
        self.services = services
        self.websockets = OpenWebSockets()
        self.cached_reads = CachedReads(services)
        self.frames_queued = [0]  # in every socket's outbox (api/outbox.py)

    async def run(self, request: Any, context: Any = UNSET, root_value: Any = UNSET) -> Any:
        """Serve one request or websocket, refusing what HTTP may not do and answering repeated reads from the cache."""
        execute = functools.partial(super().run, request, context, root_value)
        if isinstance(request, WebSocket):
            with self.websockets.held(request):
                return await execute()
        await self.services.verifier.fetch_keys(request.headers.get("authorization"))
        body = graphql_body(request)
        operation = operation_of(body) if body is not None else None
        refused = refusal(request.method, operation, language(request.headers.get("accept-language")))
        if refused is not None:
            return refused
        if body is None or operation is None or operation.kind != "query":
            return await execute()
        return await self.cached_reads.answer(request, body, operation, execute)

    @property
    def graphql_ide_html(self) -> str:
        """Our GraphiQL page, whose assets mailreg serves itself (Strawberry's loads them from a CDN)."""
        return graphiql_page.page()

    async def get_context(self, request: Request | WebSocket, response: Any) -> Context:
        """The resolvers' context for this request, with its caller verified once."""
        context = Context(
            services=self.services,
            request=request,
            lang=language(request.headers.get("accept-language")),
            request_id=request_state.request_id(request.scope) or uuid.uuid4().hex,
            correlation_id=request_state.correlation_id(request.scope),
        )
        if isinstance(request, Request):
            context.principal = request_state.principal(request, self.services.verifier)
        return context

    async def get_sub_response(self, request: Request | WebSocket) -> Response:
        """The response headers to merge, carrying the negotiated media type."""
        sub_response = await super().get_sub_response(request)
        # The negotiated media type travels on the sub-response to create_response.
        sub_response.headers["content-type"] = f"{response_media(request.headers)}; charset=utf-8"
        return sub_response

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        """Admit a websocket only with a valid token in connection_init."""
        params = context.connection_params or {}
        authorization = params.get("authorization") or params.get("Authorization")
        await self.services.verifier.fetch_keys(authorization if isinstance(authorization, str) else None)
        admit(context)
        return cast(UnsetType, UNSET)

    async def process_result(self, request: Request, result: ExecutionResult) -> GraphQLHTTPResponse:
        """The JSON answer; without a data entry for request errors, as GraphQL over HTTP asks."""
        processed = await super().process_result(request, result)
        if isinstance(result, PreExecutionError) or (result.data is None and not _has_path(result)):
            # A request error (parse, validation, variable coercion): per
            # GraphQL over HTTP there is no `data` entry at all.
            processed.pop("data", None)
        lang = language(request.headers.get("accept-language"))
        # Errors raised before the operation ran (a parse over the token limit) miss the schema's LocalizeErrors.
        if lang != "en":
            for error in cast("list[dict[str, Any]]", processed.get("errors") or []):
                error["message"] = localized(str(error["message"]), lang)
        return processed

    def create_response(self, response_data: Any, sub_response: Response) -> Response:
        """The HTTP response in the negotiated media type, 400 for request errors under graphql-response+json."""
        response = super().create_response(response_data, sub_response)
        media = sub_response.headers["content-type"]
        response.headers["content-type"] = media
        if media.startswith(GRAPHQL_RESPONSE) and isinstance(response_data, dict) and "data" not in response_data:
            response.status_code = 400
        return response
