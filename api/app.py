"""The Starlette application, composed: services, routes, middleware and the lifespan that owns them."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from starlette.applications import Starlette
from starlette.routing import Mount, Route, WebSocketRoute

from api import graphiql_page
from api.admin_page import AdminPage
from api.auth import TokenVerifier
from api.config import Config
from api.cors import CorsHeaders, cors
from api.fanout import Fanout
from api.fast_mutations import FastMutations
from api.fast_reads import FastReads
from api.graphql_view import GraphQLApp
from api.health import healthz, readyz
from api.metrics import Metrics
from api.request_guard import GraphQLRequestGuard
from api.request_id import RequestId
from api.schema import schema
from api.server_send import KeepServerSend
from api.services import Services
from api.verification.service import MailVerifier
from events.application.history import History, SnapshotWriter
from events.application.service import MailServerService
from events.database import create_engine
from events.feed import EventFeed


def build_verifier(config: Config) -> TokenVerifier:
    """The token verifier the configuration asks for."""
    secret, _ = config.secret(create=False)
    return TokenVerifier.configured(
        secret=secret,
        public_key_file=config.jwt_public_key_file,
        jwks_file=config.jwt_jwks_file,
        jwks_url=config.jwt_jwks_url,
        issuer=config.jwt_issuer,
        audience=config.jwt_audience,
        roles_claim=config.jwt_roles_claim,
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
        feed.appended(recorded)

    services = Services(
        engine=engine,
        mail_servers=MailServerService(engine, on_commit=committed, own_connection=True),
        verifier=build_verifier(config),
        history=History(engine),
        feed=feed,
        metrics=metrics,
        verification=MailVerifier(config.verify_ca_file),
    )
    services.fanout = Fanout(services, schema)
    graphql = GraphQLApp(services, allowed_origins=config.cors_origins)
    writer = SnapshotWriter(engine)
    metrics.frames_queued.set_function(lambda: graphql.frames_queued[0])

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        await feed.start()
        await writer.start()
        try:
            yield
        finally:
            await writer.stop()
            await graphql.websockets.close_all()
            await feed.stop()
            await services.mail_servers.close()
            await engine.dispose()

    app = Starlette(
        routes=[
            Route("/graphql", GraphQLRequestGuard(graphql), methods=["GET", "POST"]),
            WebSocketRoute("/graphql", graphql),
            Route("/healthz", healthz),
            Route("/readyz", readyz(engine)),
            Route("/metrics", metrics.endpoint),
            Mount(graphiql_page.ASSETS_PATH, graphiql_page.assets()),
            # The admin screens: static files that use the public GraphQL API only.
            Mount("/admin", AdminPage(), name="admin"),
        ],
        lifespan=lifespan,
    )
    app.add_middleware(RequestId, metrics=metrics)
    app.add_middleware(cors, origins=config.cors_origins)
    # A websocket's send reaches it unwrapped: FastReads, outside it, passes websockets on untouched.
    app.add_middleware(KeepServerSend)
    # The CORS headers the two fast paths give their answers themselves, worked out once per origin for both.
    cors_headers = CorsHeaders(config.cors_origins)
    # Inside FastReads (reads it answers never reach it), outside the rest: a planned mutation skips them too.
    app.add_middleware(FastMutations, services=services, cors=cors_headers)
    # Added last, so outermost: a cached answer skips the layers above and adds their headers itself.
    app.add_middleware(FastReads, reads=graphql.cached_reads, cors=cors_headers)
    app.state.services = services
    app.state.graphql = graphql
    return app
