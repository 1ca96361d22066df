"""The `mailreg` command line."""

from __future__ import annotations

import asyncio
import sys
from typing import Annotated, Any

import typer

from api.auth import issue
from api.config import Config, ConfigError

app = typer.Typer(no_args_is_help=True, add_completion=False, help="mailreg: the mail server registry.")


def _config() -> Config:
    try:
        return Config.from_env()
    except ConfigError as error:
        typer.echo(f"mailreg: {error}", err=True)
        raise typer.Exit(2) from None


@app.command()
def serve() -> None:
    """Run the API server (uvicorn) on MAILREG_HOST:MAILREG_PORT."""
    import uvicorn

    from uvicorn.config import LOGGING_CONFIG

    from api.app import create_app
    from api.logs import configure as configure_logging
    from api.setup import prepare

    config = _config()
    try:
        notice = asyncio.run(prepare(config))
    except ConfigError as error:
        typer.echo(f"mailreg: {error}", err=True)
        raise typer.Exit(1) from None
    if notice:
        typer.echo(notice)
    configure_logging(config.log_format)
    application = create_app(config)

    class Server(uvicorn.Server):
        async def shutdown(self, sockets: Any = None) -> None:
            # uvicorn would close websockets with 1012; clients should see 1001 (going away).
            await application.state.graphql.close_websockets()
            await super().shutdown(sockets)

    server = Server(uvicorn.Config(
        application, host=config.host, port=config.port, log_level="info", access_log=False,
        timeout_graceful_shutdown=7, lifespan="on", log_config=None if config.log_format == "json" else LOGGING_CONFIG,
    ))
    server.run()


@app.command()
def migrate() -> None:
    """Bring the database schema to the newest revision."""
    from events import migrate as migrations
    from events.database import create_engine

    config = _config()

    async def run() -> None:
        engine = create_engine(config.database_url)
        try:
            await migrations.upgrade(engine)
        finally:
            await engine.dispose()

    if config.is_sqlite:
        config.data_dir.mkdir(parents=True, exist_ok=True)
    asyncio.run(run())
    typer.echo(f"mailreg: database migrated to revision {migrations.head()}")


@app.command()
def token(
    sub: Annotated[str, typer.Option("--sub", help="The actor the token names.")],
    role: Annotated[list[str] | None, typer.Option("--role", help="A role to grant, e.g. admin.")] = None,
    ttl: Annotated[int | None, typer.Option("--ttl", help="Lifetime in seconds (default: no expiry).")] = None,
) -> None:
    """Print a token signed with the configured secret."""
    config = _config()
    try:
        secret, _ = config.secret(create=True)
    except ConfigError as error:
        typer.echo(f"mailreg: {error}", err=True)
        raise typer.Exit(2) from None
    typer.echo(issue(secret, sub, list(role or []), ttl_seconds=ttl, issuer=config.jwt_issuer,
                     audience=config.jwt_audience))


@app.command("export-schema")
def export_schema() -> None:
    """Print the GraphQL SDL; the committed schema.graphql must equal it."""
    from api.schema import sdl

    sys.stdout.write(sdl())


@app.command("rebuild-projections")
def rebuild_projections() -> None:
    """Replay the whole log into a fresh read model and swap it in."""
    from api.setup import with_engine
    from events.rebuild import rebuild

    config = _config()
    report = asyncio.run(with_engine(config, rebuild))
    typer.echo(f"mailreg: replayed {report.events} events into {report.servers} servers "
               f"(list version {report.list_version}) in {report.seconds:.2f}s")


def main() -> None:
    app()


