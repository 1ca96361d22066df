"""The ordered server-list read model, written in the append's transaction."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.events import (
    AllServersDeleted,
    Event,
    ServerAdded,
    ServerChanged,
    ServerDeleted,
    ServersReordered,
)
from domain.model import Incoming, Outgoing, Server, Settings
from domain.state import Registry
from domain.values import OAuthProvider, ReceiveProtocol, SmtpAuthMethod, SmtpCredentials, SmtpEncryption
from events.serialization import utc
from events.store import CHANNEL
from events.tables import SERVER_LIST, projection_state, servers


def server_row(server: Server, position: int) -> dict[str, Any]:
    settings, out, inc = server.settings, server.settings.outgoing, server.settings.incoming
    return {
        "id": server.id,
        "code": settings.code,
        "name": settings.name,
        "position": position,
        "oauth_provider": settings.oauth_provider.value if settings.oauth_provider else None,
        "outgoing_host": out.host,
        "outgoing_port": out.port,
        "outgoing_encryption": out.encryption.value,
        "outgoing_auth_method": out.auth_method.value,
        "outgoing_credentials": out.credentials.value if out.credentials else None,
        "outgoing_timeout_seconds": out.timeout_seconds,
        "incoming_protocol": inc.protocol.value,
        "incoming_host": inc.host,
        "incoming_port": inc.port,
        "incoming_use_tls": inc.use_tls,
        "incoming_use_apop": inc.use_apop,
        "incoming_timeout_seconds": inc.timeout_seconds,
        "version": server.version,
        "created_at": server.created_at,
        "updated_at": server.updated_at,
    }


def server_from_row(row: sa.Row[Any]) -> Server:
    return Server(
        id=row.id,
        settings=Settings(
            code=row.code,
            name=row.name,
            oauth_provider=OAuthProvider(row.oauth_provider) if row.oauth_provider else None,
            outgoing=Outgoing(
                host=row.outgoing_host,
                port=row.outgoing_port,
                encryption=SmtpEncryption(row.outgoing_encryption),
                auth_method=SmtpAuthMethod(row.outgoing_auth_method),
                credentials=SmtpCredentials(row.outgoing_credentials) if row.outgoing_credentials else None,
                timeout_seconds=row.outgoing_timeout_seconds,
            ),
            incoming=Incoming(
                protocol=ReceiveProtocol(row.incoming_protocol),
                host=row.incoming_host,
                port=row.incoming_port,
                use_tls=row.incoming_use_tls,
                use_apop=row.incoming_use_apop,
                timeout_seconds=row.incoming_timeout_seconds,
            ),
        ),
        version=row.version,
        created_at=utc(row.created_at),
        updated_at=utc(row.updated_at),
    )


async def project(conn: AsyncConnection, event: Event, before: Registry, after: Registry) -> None:
    """Bring the read model from `before` to `after`, the states around `event`."""
    match event:
        case ServerAdded():
            await conn.execute(servers.insert(), server_row(after.servers[event.server_id], len(after.order)))
        case ServerChanged():
            row = server_row(after.servers[event.server_id], 0)
            del row["position"], row["id"]
            await conn.execute(servers.update().where(servers.c.id == event.server_id), row)
        case ServersReordered():
            moved = [
                {"sid": server_id, "pos": index}
                for index, server_id in enumerate(event.after, start=1)
                if before.position_of(server_id) != index
            ]
            if moved:
                await conn.execute(
                    servers.update().where(servers.c.id == sa.bindparam("sid")).values(position=sa.bindparam("pos")),
                    moved,
                )
        case ServerDeleted():
            gone = before.position_of(event.server_id)
            await conn.execute(servers.delete().where(servers.c.id == event.server_id))
            await conn.execute(
                servers.update().where(servers.c.position > gone).values(position=servers.c.position - 1)
            )
        case AllServersDeleted():
            await conn.execute(servers.delete())


async def save_checkpoint(
    conn: AsyncConnection,
    position: int,
    list_version: int,
    *,
    notify: bool = False,
    last_occurred_at: datetime | None = None,
) -> None:
    """Record how far the read model is. With `notify`, also wake the live
    feeds of every instance (PostgreSQL; in the same round trip)."""
    update = (
        projection_state.update()
        .where(projection_state.c.name == SERVER_LIST)
        .values(position=position, list_version=list_version)
    )
    if last_occurred_at is not None:
        update = update.values(last_occurred_at=last_occurred_at)
    if notify and conn.dialect.name == "postgresql":
        update = update.returning(sa.func.pg_notify(CHANNEL, str(position)))
    await conn.execute(update)


async def checkpoint(conn: AsyncConnection) -> tuple[int, int]:
    """(last projected position, list version)."""
    row = (
        await conn.execute(
            sa.select(projection_state.c.position, projection_state.c.list_version).where(
                projection_state.c.name == SERVER_LIST
            )
        )
    ).one()
    return int(row.position), int(row.list_version)


async def load_registry(conn: AsyncConnection) -> tuple[int, Registry]:
    """The read model as a Registry, with the position it reflects."""
    position, registry, _ = await load_state(conn)
    return position, registry


async def load_state(conn: AsyncConnection) -> tuple[int, Registry, datetime | None]:
    """The read model as a Registry, with the position it reflects and the newest event's time."""
    row = (
        await conn.execute(
            sa.select(
                projection_state.c.position, projection_state.c.list_version, projection_state.c.last_occurred_at
            ).where(projection_state.c.name == SERVER_LIST)
        )
    ).one()
    rows = (await conn.execute(servers.select().order_by(servers.c.position))).all()
    loaded = [server_from_row(row) for row in rows]
    registry = Registry(
        servers={s.id: s for s in loaded}, order=tuple(s.id for s in loaded), list_version=int(row.list_version)
    )
    return int(row.position), registry, row.last_occurred_at


async def replace_all(
    conn: AsyncConnection, registry: Registry, position: int, last_occurred_at: datetime | None = None
) -> None:
    """Swap in a whole new read model (a rebuild)."""
    await conn.execute(servers.delete())
    rows: Sequence[dict[str, Any]] = [
        server_row(server, index) for index, server in enumerate(registry.ordered(), start=1)
    ]
    if rows:
        await conn.execute(servers.insert(), rows)
    await save_checkpoint(conn, position, registry.list_version, last_occurred_at=last_occurred_at)
