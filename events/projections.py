"""The ordered server-list read model, written in the append's transaction."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, assert_never

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
from domain.model import SETTING_FIELDS, Server, SettingField, from_fields, scalars
from domain.state import ServerList
from events.dialect import dialect_of
from events.serialization import utc
from events.tables import SERVER_LIST, projection_state, servers


def column(field: SettingField) -> str:
    """The read model's column of a setting: its attribute path joined by underscores."""
    return "_".join(field.path)


_COLUMNS = [(field, column(field)) for field in SETTING_FIELDS]
_COLUMN_NAMES = tuple(name for _, name in _COLUMNS)


def server_row(server: Server, position: int) -> dict[str, Any]:
    """The read model's row of a server at its 1-based list position."""
    return {
        "id": server.id,
        "position": position,
        **dict(zip(_COLUMN_NAMES, scalars(server.settings), strict=True)),
        "version": server.version,
        "created_at": server.created_at,
        "updated_at": server.updated_at,
    }


def server_from_row(row: sa.Row[Any]) -> Server:
    """The server a read-model row holds."""
    mapping = row._mapping
    return Server(
        id=row.id,
        settings=from_fields({field.name: mapping[name] for field, name in _COLUMNS}),
        version=row.version,
        created_at=utc(row.created_at),
        updated_at=utc(row.updated_at),
    )


async def project(conn: AsyncConnection, event: Event, before: ServerList, after: ServerList) -> None:
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
                {"moved_id": server_id, "new_position": index}
                for index, server_id in enumerate(event.after, start=1)
                if before.position_of(server_id) != index
            ]
            if moved:
                await conn.execute(
                    servers.update()
                    .where(servers.c.id == sa.bindparam("moved_id"))
                    .values(position=sa.bindparam("new_position")),
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
        case _:
            assert_never(event)


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
    if notify:
        update = dialect_of(conn).notify(update, position)
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


async def load_list(conn: AsyncConnection) -> tuple[int, ServerList]:
    """The read model as a ServerList, with the position it reflects."""
    position, server_list, _ = await load_state(conn)
    return position, server_list


async def load_state(conn: AsyncConnection) -> tuple[int, ServerList, datetime | None]:
    """The read model as a ServerList, with the position it reflects and the newest event's time."""
    row = (
        await conn.execute(
            sa.select(
                projection_state.c.position, projection_state.c.list_version, projection_state.c.last_occurred_at
            ).where(projection_state.c.name == SERVER_LIST)
        )
    ).one()
    rows = (await conn.execute(servers.select().order_by(servers.c.position))).all()
    loaded = [server_from_row(row) for row in rows]
    server_list = ServerList(
        servers={s.id: s for s in loaded}, order=tuple(s.id for s in loaded), list_version=int(row.list_version)
    )
    return int(row.position), server_list, row.last_occurred_at


async def replace_all(
    conn: AsyncConnection, server_list: ServerList, position: int, last_occurred_at: datetime | None = None
) -> None:
    """Swap in a whole new read model (a rebuild)."""
    await conn.execute(servers.delete())
    rows: Sequence[dict[str, Any]] = [
        server_row(server, index) for index, server in enumerate(server_list.ordered(), start=1)
    ]
    if rows:
        await conn.execute(servers.insert(), rows)
    await save_checkpoint(conn, position, server_list.list_version, last_occurred_at=last_occurred_at)
