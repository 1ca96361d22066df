"""The `mailreg` command line."""

from __future__ import annotations

import asyncio
import gc
import signal
import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer

from api.auth import DEFAULT_TTL_SECONDS, issue
from api.config import Config, ConfigError
from api.i18n import say
from api.progress import CommandProgress

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine


def _echo(message: str, err: bool = False) -> None:
    """Print a message for a person, in Japanese when the locale is."""
    typer.echo(say(message), err=err)


app = typer.Typer(no_args_is_help=True, add_completion=False, help="mailreg: the mail server registry.")


def _config() -> Config:
    try:
        return Config.from_env()
    except ConfigError as error:
        _echo(f"mailreg: {error}", err=True)
        raise typer.Exit(2) from None


def _tune_garbage_collection() -> None:
    # A history view or a list read makes tens of thousands of short-lived
    # objects, a rebuild millions; with the default threshold (700) the cyclic
    # collector runs many times per request and walks the whole heap of modules
    # and the schema each time (a third of a point-in-time view's CPU). Objects
    # alive now are moved out of its reach, and it runs after 50,000 new objects.
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)


@app.command()
def serve(
    workers: Annotated[
        int,
        typer.Option(
            "--workers",
            envvar="MAILREG_WORKERS",
            min=1,
            help="processes serving the one port, each a full instance on the shared database",
        ),
    ] = 1,
) -> None:
    """Run the API server (uvicorn) on MAILREG_HOST:MAILREG_PORT."""
    from api.setup import prepare

    config = _config()
    try:
        notice = asyncio.run(prepare(config))
    except ConfigError as error:
        _echo(f"mailreg: {error}", err=True)
        raise typer.Exit(1) from None
    if notice:
        _echo(notice)
    if workers == 1:
        _serve(config, None)
        return
    from api.workers import run_workers

    raise typer.Exit(run_workers(workers, config.host, config.port, lambda sock: _serve(config, sock)))


def _serve(config: Config, sock: Any) -> None:
    import uvicorn

    from api.app import create_app
    from api.logs import configure as configure_logging

    log_config = configure_logging(config.log_format, config.log_level)
    application = create_app(config)
    _tune_garbage_collection()

    class Server(uvicorn.Server):
        async def shutdown(self, sockets: Any = None) -> None:
            # uvicorn would close websockets with 1012; clients should see 1001 (going away).
            await application.state.graphql.websockets.close_all()
            await super().shutdown(sockets)

        def handle_exit(self, sig: int, frame: Any) -> None:
            super().handle_exit(sig, frame)
            # uvicorn re-raises the signal after a graceful shutdown; a SIGTERM
            # that was handled in full is a normal end, so the exit status is 0.
            if sig == signal.SIGTERM:
                self._captured_signals = [s for s in self._captured_signals if s != signal.SIGTERM]

    server = Server(uvicorn.Config(application, **uvicorn_options(config, log_config)))
    server.run(sockets=None if sock is None else [sock])


def uvicorn_options(config: Config, log_config: dict[str, Any]) -> dict[str, Any]:
    """What `mailreg serve` gives uvicorn besides the app; the bench's plain ceilings are served with the same."""
    return {
        "host": config.host,
        "port": config.port,
        "log_level": config.log_level,
        # Our RequestId middleware logs each request once, with its id; uvicorn's line would be a second.
        "access_log": False,
        "timeout_graceful_shutdown": 7,
        "lifespan": "on",
        # Compressing each frame per socket would undo sending one serialized frame to many.
        "ws_per_message_deflate": False,
        # Named, not "auto": fan-out writes prebuilt frames to this protocol's transport (api/direct_frames.py).
        "ws": "websockets-sansio",
        "log_config": log_config,
    }


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
    _echo(f"mailreg: database migrated to revision {migrations.head()}")


@app.command()
def token(
    sub: Annotated[str, typer.Option("--sub", help="The actor the token names.")],
    role: Annotated[list[str] | None, typer.Option("--role", help="A role to grant, e.g. admin.")] = None,
    ttl: Annotated[
        int, typer.Option("--ttl", min=1, help="Lifetime in seconds (default 43200: 12 hours).")
    ] = DEFAULT_TTL_SECONDS,
) -> None:
    """Print a token signed with the configured secret."""
    config = _config()
    try:
        secret, _ = config.secret(create=True)
    except ConfigError as error:
        _echo(f"mailreg: {error}", err=True)
        raise typer.Exit(2) from None
    typer.echo(
        issue(secret, sub, list(role or []), ttl_seconds=ttl, issuer=config.jwt_issuer, audience=config.jwt_audience)
    )


@app.command("export-schema")
def export_schema() -> None:
    """Print the GraphQL SDL; the committed schema.graphql must equal it."""
    from api.schema import sdl

    sys.stdout.write(sdl())


@app.command("rebuild-projections")
def rebuild_projections() -> None:
    """Replay the whole log into a fresh read model and swap it in."""
    from api.setup import with_engine
    from events.operations.rebuild import RebuildReport, rebuild

    config = _config()
    _tune_garbage_collection()

    async def run(engine: AsyncEngine) -> RebuildReport:
        with CommandProgress("rebuild-projections") as progress:
            report = await rebuild(engine, progress.stage("replay", await _log_size(engine)))
        progress.summary(report.events)
        return report

    try:
        report = asyncio.run(with_engine(config, run))
    except Exception as error:  # a one-line reason, not a traceback, for operators
        raise _failed("rebuild-projections", error) from None
    _echo(
        f"mailreg: replayed {report.events} events into {report.servers} servers "
        f"(list version {report.list_version}) in {report.seconds:.2f}s"
    )


async def _log_size(engine: AsyncEngine) -> int | None:
    """The number of events to count towards, or None when the log cannot be counted (yet)."""
    from events.operations.progress import log_size

    try:
        return await log_size(engine)
    except Exception:  # no schema yet, say: the command itself reports that properly
        return None


def _failed(command: str, error: Exception) -> typer.Exit:
    _echo(f"mailreg: {command} failed: {error.__class__.__name__}: {error}", err=True)
    return typer.Exit(1)


def _sqlite_missing(config: Config) -> str | None:
    """The embedded store's file when it does not exist (connecting would create it)."""
    from pathlib import Path

    from sqlalchemy.engine import make_url

    database = make_url(config.database_url).database if config.is_sqlite else None
    if not database or database == ":memory:" or database.startswith("file:") or Path(database).exists():
        return None
    return database


@app.command()
def check() -> None:
    """Verify the log and that the read model equals a rebuild: exit 0 when
    consistent, 1 with a report of every problem otherwise."""
    from api.setup import with_engine
    from events.operations.check import CheckReport
    from events.operations.check import check as check_log

    config = _config()
    missing = _sqlite_missing(config)
    if missing is not None:
        _echo(f"mailreg: no database at {missing}")
        raise typer.Exit(1)

    async def run(engine: AsyncEngine) -> CheckReport:
        with CommandProgress("check") as progress:
            report = await check_log(engine, progress.stage("verify", await _log_size(engine)))
        progress.summary(report.events)
        return report

    try:
        report = asyncio.run(with_engine(config, run))
    except Exception as error:  # unreachable or broken database: say so, no traceback
        raise _failed("check", error) from None
    if report.consistent:
        _echo(f"consistent: {report.summary()}")
        return
    count = report.problem_count
    _echo(f"inconsistent: {count} problem{'s' * (count != 1)} in {report.summary()}")
    for problem in report.problems:
        _echo(f"  - {problem}")
    raise typer.Exit(1)


@app.command("export")
def export_log(
    output: Annotated[str | None, typer.Option("--output", "-o", help="Write here (default: stdout)")] = None,
) -> None:
    """Write the whole log as JSON Lines, one event a line, oldest first."""
    import os
    from collections.abc import Callable
    from pathlib import Path

    from api.setup import with_engine
    from events import migrate as migrations
    from events.operations.portability import export

    config = _config()
    missing = _sqlite_missing(config)
    if missing is not None:
        _echo(f"mailreg: no database at {missing}", err=True)
        raise typer.Exit(1)

    async def run(engine: AsyncEngine, write: Callable[[str], object]) -> int:
        # Any revision will do: every one of them has the same events table.
        if await migrations.current(engine) is None:
            _echo("mailreg: this database has no mailreg schema: nothing to export", err=True)
            raise typer.Exit(1)
        with CommandProgress("export") as progress:
            count = await export(engine, write, progress.stage("write", await _log_size(engine)))
        progress.summary(count)
        return count

    try:
        if output is None or output == "-":
            stdout = sys.stdout.buffer

            def write(line: str) -> object:
                return stdout.write(line.encode())

            count = asyncio.run(with_engine(config, lambda e: run(e, write)))
            stdout.flush()
        else:
            # Written aside and renamed, so that a failed export leaves no half file behind.
            target = Path(output)
            partial = target.with_name(f".{target.name}.partial")
            try:
                with partial.open("w", encoding="utf-8", newline="\n") as handle:
                    count = asyncio.run(with_engine(config, lambda e: run(e, handle.write)))
                os.replace(partial, target)
            finally:
                partial.unlink(missing_ok=True)
    except typer.Exit:
        raise
    except Exception as error:  # database or file trouble: say so, no traceback
        raise _failed("export", error) from None
    _echo(f"mailreg: exported {count} events", err=True)


@app.command("import")
def import_log(
    input: Annotated[str | None, typer.Option("--input", "-i", help="Read this file (default stdin)")] = None,
) -> None:
    """Load an exported log into an empty database, with its read model, in one
    transaction. Every line is checked before anything is written."""
    import shutil
    import tempfile
    from pathlib import Path
    from typing import IO

    from api.setup import with_engine
    from events.operations.portability import ImportRefusedError
    from events.operations.portability import import_log as load

    config = _config()
    if input is not None and input != "-" and not Path(input).is_file():
        _echo(f"mailreg: no file {input}", err=True)
        raise typer.Exit(1)
    if config.is_sqlite:
        config.data_dir.mkdir(parents=True, exist_ok=True)
    source: IO[bytes]
    with tempfile.TemporaryFile() if input in (None, "-") else Path(str(input)).open("rb") as source:
        if input in (None, "-"):
            # Read twice (checked, then written), so stdin is kept aside first.
            shutil.copyfileobj(sys.stdin.buffer, source)
            source.seek(0)
        lines = sum(chunk.count(b"\n") for chunk in iter(lambda: source.read(1 << 20), b""))
        source.seek(0)
        progress = CommandProgress("import")
        try:
            with progress:
                report = asyncio.run(
                    with_engine(
                        config,
                        lambda e: load(
                            e,
                            source,
                            upgrade=config.is_sqlite,
                            checked=progress.stage("check", lines),
                            written=progress.stage("write", lines),
                        ),
                    )
                )
            progress.summary(report.events)
        except ImportRefusedError as refused:
            count = refused.count
            _echo(f"mailreg: import refused, nothing was written ({count} problem{'s' * (count != 1)}):", err=True)
            for problem in refused.problems:
                _echo(f"  - {problem}", err=True)
            raise typer.Exit(1) from None
        except Exception as error:  # unreachable or broken database: say so, no traceback
            raise _failed("import", error) from None
    _echo(
        f"mailreg: imported {report.events} events in {report.streams} streams, "
        f"{report.servers} servers (list version {report.list_version}), "
        f"last position {report.last_position}"
    )


@app.command()
def verify(
    code: Annotated[str, typer.Argument(help="The mail server's code.")],
    user: Annotated[str | None, typer.Option("--user", help="The receiving account to sign in with.")] = None,
    password_stdin: Annotated[
        bool,
        typer.Option(
            "--password-stdin",
            help="Read the password from the first line of stdin (with --sending-user, its password from the second).",
        ),
    ] = False,
    sending_user: Annotated[
        str | None, typer.Option("--sending-user", help="The sending account, for SMTP set to SENDING_ACCOUNT.")
    ] = None,
    lang: Annotated[str | None, typer.Option("--lang", help="en or ja (default: from LANG).")] = None,
) -> None:
    """Check a server's settings against the real mail servers, as a mail client
    would; exit 0 when OK, 1 on a WARNING, 2 when FAILED (or on bad input)."""
    from api.verification.command import run

    config = _config()
    raise typer.Exit(run(config, code, user=user, password_stdin=password_stdin, sending_user=sending_user, lang=lang))


def main() -> None:
    """Run the command line."""
    app()
