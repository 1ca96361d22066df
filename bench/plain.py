"""The ceilings of the HTTP reads: plain Starlette endpoints that answer the same bytes
as the GraphQL queries, without GraphQL.

`/plain/bytes/<name>` is the bytes-only ceiling (issue 10's plain app): a POST
is answered with the bytes last PUT under that name (the bench PUTs what
mailreg answered), with no token check and no database read.

The other endpoints keep the answer fresh, as mailreg must. Each request does
what a hand-written endpoint would: read and parse the JSON body, verify the
bearer token (and the admin role for the list), ask MailServerService.current()
for the list (the same freshness check mailreg makes) and answer the JSON encoded as Strawberry encodes it (json.dumps,
compact separators), encoded once per log position. `/plain/change` renames a
server through the same write path as changeMailServer, for the rows where
every read follows a change.

Run as `python -m bench.plain`, configured by the same MAILREG_* environment
as `mailreg serve`, served by uvicorn with the same options (api/cli.py's uvicorn_options)."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from api.app import build_verifier
from api.auth import InvalidTokenError, Principal, TokenVerifier, bearer
from api.cli import uvicorn_options
from api.config import Config
from api.logs import configure as configure_logging
from domain.commands import ChangeServer
from domain.model import Server
from domain.state import ServerList
from events.application.service import MailServerService
from events.application.service import Request as ServiceRequest
from events.database import create_engine

MAIL_SERVERS_QUERY = (
    "{ mailServers { version totalCount items { id code name position version oauthProvider createdAt updatedAt "
    "outgoing { host port encryption authMethod credentials timeoutSeconds } "
    "incoming { protocol host port useTls useApop timeoutSeconds } } } }"
)
CHOICES_QUERY = "{ mailServerChoices { id code name } }"


def server_json(server: Server, position: int) -> dict[str, Any]:
    """A server in the field order of MAIL_SERVERS_QUERY."""
    settings, out, inc = server.settings, server.settings.outgoing, server.settings.incoming
    return {
        "id": server.id,
        "code": settings.code,
        "name": settings.name,
        "position": position,
        "version": server.version,
        "oauthProvider": settings.oauth_provider.value if settings.oauth_provider else None,
        "createdAt": server.created_at.isoformat(),
        "updatedAt": server.updated_at.isoformat(),
        "outgoing": {
            "host": out.host,
            "port": out.port,
            "encryption": out.encryption.value,
            "authMethod": out.auth_method.value,
            "credentials": out.credentials.value if out.credentials else None,
            "timeoutSeconds": out.timeout_seconds,
        },
        "incoming": {
            "protocol": inc.protocol.value,
            "host": inc.host,
            "port": inc.port,
            "useTls": inc.use_tls,
            "useApop": inc.use_apop,
            "timeoutSeconds": inc.timeout_seconds,
        },
    }


def mail_servers_json(registry: ServerList) -> dict[str, Any]:
    items = [server_json(s, i) for i, s in enumerate(registry.ordered(), start=1)]
    return {"data": {"mailServers": {"version": registry.list_version, "totalCount": len(items), "items": items}}}


def choices_json(registry: ServerList) -> dict[str, Any]:
    return {"data": {"mailServerChoices": [{"id": s.id, "code": s.code, "name": s.name} for s in registry.ordered()]}}


def _json(data: Any, status: int = 200) -> Response:
    return Response(json.dumps(data, separators=(",", ":")), status_code=status, media_type="application/json")


def create_plain_app(config: Config) -> Starlette:
    engine = create_engine(config.database_url)
    registry = MailServerService(engine, own_connection=True)
    verifier: TokenVerifier = build_verifier(config)

    async def principal(request: Request) -> Principal | None:
        json.loads(await request.body())
        token = bearer(request.headers.get("authorization"))
        if token is None:
            return None
        try:
            return verifier.verify(token)
        except InvalidTokenError:
            return None

    answers: dict[tuple[str, int], bytes] = {}

    async def answer(path: str, build: Callable[[ServerList], dict[str, Any]]) -> Response:
        # The same bytes for the same position: encoded once per position, as a hand-written cache would.
        current = await registry.current()
        body = answers.get((path, current.position))
        if body is None:
            answers.clear()
            body = answers[(path, current.position)] = json.dumps(
                build(current.server_list), separators=(",", ":")
            ).encode()
        return Response(body, media_type="application/json")

    async def mail_servers(request: Request) -> Response:
        who = await principal(request)
        if who is None or not who.is_admin:
            return _json({"errors": [{"message": "forbidden"}]}, 403)
        return await answer("servers", mail_servers_json)

    async def mail_server_choices(request: Request) -> Response:
        if await principal(request) is None:
            return _json({"errors": [{"message": "unauthenticated"}]}, 401)
        return await answer("choices", choices_json)

    async def change(request: Request) -> Response:
        """A rename through the same write path as changeMailServer, without GraphQL."""
        who = await principal(request)
        if who is None or not who.is_admin:
            return _json({"errors": [{"message": "forbidden"}]}, 403)
        given = json.loads(await request.body())
        command = ChangeServer(server_id=given["id"], name=given["name"])
        await registry.execute(command, ServiceRequest(actor=who.subject), lambda _after, _events: {})
        return _json({"ok": True})

    canned: dict[str, tuple[bytes, str]] = {}

    async def bytes_only(request: Request) -> Response:
        name = request.path_params["name"]
        if request.method == "PUT":
            canned[name] = (await request.body(), request.headers.get("content-type", "application/json"))
            return PlainTextResponse("kept")
        if name not in canned:
            return PlainTextResponse("nothing kept under this name", 404)
        body, media = canned[name]
        return Response(body, media_type=media)

    async def healthz(_: Request) -> Response:
        return PlainTextResponse("ok")

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await registry.close()
            await engine.dispose()

    return Starlette(
        routes=[
            Route("/plain/mailServers", mail_servers, methods=["POST"]),
            Route("/plain/mailServerChoices", mail_server_choices, methods=["POST"]),
            Route("/plain/change", change, methods=["POST"]),
            Route("/plain/bytes/{name}", bytes_only, methods=["POST", "PUT"]),
            Route("/healthz", healthz),
        ],
        lifespan=lifespan,
    )


def main() -> None:
    import uvicorn

    config = Config.from_env()
    log_config = configure_logging(config.log_format, config.log_level)
    uvicorn.run(create_plain_app(config), **uvicorn_options(config, log_config))


if __name__ == "__main__":
    main()
