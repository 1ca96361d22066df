"""Random ids, valid commands and requests for the integration suite."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.commands import AddServer, Command, IncomingInput, OutgoingInput
from domain.events import Event, ServerAdded
from domain.model import Incoming, Outgoing, Settings
from domain.state import ServerList
from domain.values import ReceiveProtocol
from events import store
from events.application.service import Request
from events.serialization import JsonDict
from events.store import Metadata
from events.tables import events as log_table
from events.tables import idempotency_keys


def new_id(prefix: str = "srv") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def add_server(*, code: str | None = None, name: str = "Integration server") -> AddServer:
    return AddServer(
        server_id=new_id(),
        code=code or new_id("code"),
        name=name,
        oauth_provider=None,
        outgoing=OutgoingInput(host="smtp.example.com", port=25),
        incoming=IncomingInput(protocol=ReceiveProtocol.POP3, host="pop.example.com", port=110),
    )


def settings(code: str | None = None, name: str = "Integration server") -> Settings:
    return Settings(
        code=code or new_id("code"),
        name=name,
        oauth_provider=None,
        outgoing=Outgoing(host="smtp.example.com", port=25),
        incoming=Incoming(protocol=ReceiveProtocol.POP3, host="pop.example.com", port=110),
    )


def server_added(server_id: str) -> ServerAdded:
    return ServerAdded(server_id=server_id, settings=settings())


def metadata(occurred_at: datetime | None = None) -> Metadata:
    return Metadata(actor=new_id("actor"), correlation_id=new_id("corr"), occurred_at=occurred_at or datetime.now(UTC))


def fingerprint(command: Command) -> JsonDict:
    """What the API would hash: the input, not the server id it generates per request."""
    fields = {f.name: repr(getattr(command, f.name)) for f in dataclasses.fields(command) if f.name != "server_id"}
    return {"mutation": type(command).__name__, **fields}


def request(*, actor: str = "integration-admin", key: str | None = None, command: Command | None = None) -> Request:
    return Request(
        actor=actor,
        correlation_id=new_id("corr"),
        idempotency_key=key,
        fingerprint=fingerprint(command) if command is not None else {},
    )


def respond(server_list: ServerList, new_events: Sequence[Event]) -> JsonDict:
    """A payload that moves with every later change, so a stored reply is recognisable."""
    return {"listVersion": server_list.list_version, "order": list(server_list.order), "events": len(new_events)}


async def last_position(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return await store.last_position(conn)


async def count_events(engine: AsyncEngine, stream_ids: Sequence[str]) -> int:
    query = sa.select(sa.func.count()).select_from(log_table).where(log_table.c.stream_id.in_(stream_ids))
    async with engine.connect() as conn:
        return int((await conn.execute(query)).scalar_one())


async def remembered(engine: AsyncEngine, actor: str, key: str) -> bool:
    query = sa.select(idempotency_keys.c.key).where(idempotency_keys.c.actor == actor, idempotency_keys.c.key == key)
    async with engine.connect() as conn:
        return (await conn.execute(query)).first() is not None


def problems_of(error: BaseException) -> list[tuple[Any, str]]:
    return [(p.field, p.code.value) for p in getattr(error, "problems", ())]
