"""Start-up work shared by the commands: migrations, secrets, engines."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncEngine

from api.auth import ADMIN, DEFAULT_TTL_SECONDS, issue
from api.config import Config, ConfigError
from events import migrate
from events.database import create_engine

T = TypeVar("T")


async def prepare(config: Config) -> str | None:
    """Make the store ready for `serve`. SQLite migrates itself; PostgreSQL must
    have been migrated with `mailreg migrate`. Returns a notice to print."""
    engine = create_engine(config.database_url)
    try:
        if config.is_sqlite:
            config.data_dir.mkdir(parents=True, exist_ok=True)
            await migrate.upgrade(engine)
        else:
            try:
                current = await migrate.current(engine)
            except Exception as error:
                raise ConfigError(f"cannot reach the database: {error.__class__.__name__}: {error}") from None
            if current != migrate.head():
                raise ConfigError(
                    f"the database schema is at revision {current or 'none'}, not {migrate.head()}: "
                    "run `mailreg migrate` first"
                )
    finally:
        await engine.dispose()
    secret, generated = config.secret(create=True)
    if not generated:
        return None
    token = issue(secret, "admin", [ADMIN])
    return (
        f"mailreg: no MAILREG_JWT_SECRET set; generated one and kept it in {config.secret_file}\n"
        f"mailreg: admin token, valid for {DEFAULT_TTL_SECONDS // 3600} hours (use as 'Authorization: Bearer <token>'; "
        f"more with `mailreg token`):\n{token}\n"
        f"mailreg: admin screens (signed in by this link): {admin_link(config, token)}"
    )


def admin_link(config: Config, token: str) -> str:
    """A link to the admin screens that signs the page in; the page drops the fragment at once."""
    host = "127.0.0.1" if config.host in ("0.0.0.0", "") else ("[::1]" if config.host == "::" else config.host)
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{config.port}/admin/#token={token}"


async def with_engine(config: Config, work: Callable[[AsyncEngine], Awaitable[T]]) -> T:
    """Run work with an engine on the configured database, disposed of afterwards."""
    engine = create_engine(config.database_url)
    try:
        return await work(engine)
    finally:
        await engine.dispose()
