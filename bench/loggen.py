"""A realistic event log, fast: real domain events turned into stored rows by
events.serialization.to_payload, bulk-loaded with COPY.

The log starts with `servers` ServerAdded events; the rest are mostly
ServerChanged (name or a timeout, with correct `before` values) on random live
servers, with a ServersReordered of the whole list every REORDER_EVERY events
(linked to every server it moved, as the write path does) and a delete plus a
new server every REPLACE_EVERY events, so the list keeps `servers` entries.
Stream versions, positions and occurred_at are all consistent; the read model
is then built by `mailreg rebuild-projections` (or events.operations.rebuild.rebuild).

The secondary indexes and unique constraints of `events` are dropped for the
load and created again afterwards from their own definitions, read from the
catalog (pg_get_indexdef / pg_get_constraintdef), so the schema ends exactly
as the migrations made it."""

from __future__ import annotations

import json
import random
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from domain.events import LIST_STREAM, Event, FieldChange, ServerAdded, ServerChanged, ServerDeleted, ServersReordered
from domain.model import Incoming, Outgoing, Settings, oauth_servers
from domain.values import OAuthProvider, ReceiveProtocol, SmtpAuthMethod, SmtpCredentials, SmtpEncryption
from events.serialization import to_payload

REORDER_EVERY = 20_000
REPLACE_EVERY = 5_000
CHUNK = 50_000
ACTORS = ("alice", "bob", "carol", "ops-bot")
COLUMNS = [
    "position",
    "stream_id",
    "stream_version",
    "type",
    "schema_version",
    "data",
    "actor",
    "correlation_id",
    "occurred_at",
]


@dataclass(frozen=True, slots=True)
class GeneratedLog:
    events: int
    server_ids: tuple[str, ...]
    last_position: int
    links: int
    seconds: float


def settings_for(number: int) -> Settings:
    """A valid server: every tenth one a Google OAuth preset, the rest IMAP/POP with SMTP auth."""
    code, name = f"srv-{number:06d}", f"Server {number}"
    if number % 10 == 0:
        outgoing, incoming = oauth_servers(OAuthProvider.GOOGLE, ReceiveProtocol.IMAP4, 60, 60)
        return Settings(code=code, name=name, oauth_provider=OAuthProvider.GOOGLE, outgoing=outgoing, incoming=incoming)
    pop = number % 3 == 0
    return Settings(
        code=code,
        name=name,
        oauth_provider=None,
        outgoing=Outgoing(
            host=f"smtp{number}.example.com",
            port=587,
            encryption=SmtpEncryption.STARTTLS,
            auth_method=SmtpAuthMethod.PLAIN,
            credentials=SmtpCredentials.SENDING_ACCOUNT,
        ),
        incoming=Incoming(
            protocol=ReceiveProtocol.POP3 if pop else ReceiveProtocol.IMAP4,
            host=f"{'pop' if pop else 'imap'}{number}.example.com",
            port=995 if pop else 993,
            use_tls=True,
            use_apop=False,
        ),
    )


class _Writer:
    def __init__(self, rng: random.Random, start: datetime, spacing: float, first_position: int) -> None:
        self.rng = rng
        self.start = start
        self.spacing = spacing
        self.position = first_position
        self.versions: dict[str, int] = {}
        self.rows: list[tuple[Any, ...]] = []
        self.links: list[tuple[str, int]] = []

    def emit(self, stream: str, event: Event) -> int:
        name, schema_version, data = to_payload(event)
        self.position += 1
        version = self.versions[stream] = self.versions.get(stream, 0) + 1
        n = self.position
        self.rows.append(
            (
                n,
                stream,
                version,
                name,
                schema_version,
                json.dumps(data),
                ACTORS[n % len(ACTORS)],
                f"req-{n:012x}" if n % 3 else None,
                self.start + timedelta(seconds=n * self.spacing),
            )
        )
        return n


SECONDARY_INDEXES = """
SELECT ci.relname AS index_name, pg_get_indexdef(i.indexrelid) AS index_def,
       c.conname AS constraint_name, pg_get_constraintdef(c.oid) AS constraint_def
FROM pg_index i
JOIN pg_class ci ON ci.oid = i.indexrelid
LEFT JOIN pg_constraint c ON c.conindid = i.indexrelid AND c.conrelid = i.indrelid
WHERE i.indrelid = 'events'::regclass AND NOT i.indisprimary
"""


async def _drop_secondary_indexes(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    found: list[asyncpg.Record] = list(await conn.fetch(SECONDARY_INDEXES))
    for row in found:
        if row["constraint_name"]:
            await conn.execute(f'ALTER TABLE events DROP CONSTRAINT "{row["constraint_name"]}"')
        else:
            await conn.execute(f'DROP INDEX "{row["index_name"]}"')
    return found


async def _restore_secondary_indexes(conn: asyncpg.Connection, found: list[asyncpg.Record]) -> None:
    for row in found:
        if row["constraint_name"]:
            await conn.execute(f'ALTER TABLE events ADD CONSTRAINT "{row["constraint_name"]}" {row["constraint_def"]}')
        else:
            await conn.execute(row["index_def"])


async def generate(dsn: str, *, events: int, servers: int, seed: int = 20261127) -> GeneratedLog:
    """Append `events` events (at least `servers`) to the log of an empty, migrated database."""
    started = time.perf_counter()
    events = max(events, servers)
    rng = random.Random(seed)
    conn = await asyncpg.connect(dsn)
    try:
        first = int(await conn.fetchval("SELECT coalesce(max(position), 0) FROM events"))
        if first:
            raise RuntimeError("the log is not empty")
        spacing = 1.0
        begin = datetime.now(UTC) - timedelta(seconds=events * spacing + 3600)
        out = _Writer(rng, begin, spacing, first)
        order: list[str] = []
        names: dict[str, int] = {}  # server id -> number used in its code
        state: dict[str, dict[str, Any]] = {}  # current values of the fields we change
        counter = 0

        def add() -> None:
            nonlocal counter
            counter += 1
            server_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
            settings = settings_for(counter)
            order.append(server_id)
            names[server_id] = counter
            state[server_id] = {
                "name": settings.name,
                "outgoing.timeoutSeconds": settings.outgoing.timeout_seconds,
                "incoming.timeoutSeconds": settings.incoming.timeout_seconds,
            }
            out.emit(server_id, ServerAdded(server_id=server_id, settings=settings, position=len(order)))

        def change() -> None:
            server_id = order[rng.randrange(len(order))]
            current = state[server_id]
            pick = rng.random()
            value: str | int
            if pick < 0.6:
                key, value = "name", f"Server {names[server_id]} rev {out.position}"
            else:
                key = "outgoing.timeoutSeconds" if pick < 0.8 else "incoming.timeoutSeconds"
                value = 90 if current[key] == 60 else 60
            event = ServerChanged(
                server_id=server_id, changes=(FieldChange(field=key, before=current[key], after=value),)
            )
            current[key] = value
            out.emit(server_id, event)

        def reorder() -> None:
            before = tuple(order)
            rng.shuffle(order)
            after = tuple(order)
            position = out.emit(LIST_STREAM, ServersReordered(before=before, after=after))
            was = {server_id: n for n, server_id in enumerate(before, start=1)}
            out.links.extend((s, position) for n, s in enumerate(after, start=1) if was[s] != n)

        def replace() -> None:
            server_id = order.pop(rng.randrange(len(order)))
            number = names.pop(server_id)
            name = state.pop(server_id)["name"]
            out.emit(server_id, ServerDeleted(server_id=server_id, code=f"srv-{number:06d}", name=name))
            add()

        total_links = 0

        async def flush() -> None:
            nonlocal total_links
            if out.rows:
                await conn.copy_records_to_table("events", records=out.rows, columns=COLUMNS)
                out.rows.clear()
            if out.links:
                await conn.copy_records_to_table("event_links", records=out.links, columns=["stream_id", "position"])
                total_links += len(out.links)
                out.links.clear()

        # At 1,000,000 events: a reorder every 20,000 and a replacement every 5,000;
        # smaller logs get proportionally more, so they have some of each.
        reorder_every = max(1, min(REORDER_EVERY, (events - servers) // 5))
        replace_every = max(1, min(REPLACE_EVERY, (events - servers) // 20))

        async def fill() -> None:
            while out.position - first < events:
                step = out.position - first
                if step % reorder_every == 0 and len(order) > 1:
                    reorder()
                elif step % replace_every == 0 and len(order) > 1 and events - step >= 2:
                    replace()
                else:
                    change()
                if len(out.rows) >= CHUNK:
                    await flush()
            await flush()

        await conn.execute("SET maintenance_work_mem = '256MB'")
        dropped = await _drop_secondary_indexes(conn)
        try:
            for _ in range(servers):
                add()
            await fill()
        finally:
            await _restore_secondary_indexes(conn, dropped)
        await conn.execute("SELECT setval(pg_get_serial_sequence('events', 'position'), $1)", out.position)
        await conn.execute("VACUUM ANALYZE events")
        await conn.execute("VACUUM ANALYZE event_links")
        return GeneratedLog(
            out.position - first, tuple(order), out.position, total_links, time.perf_counter() - started
        )
    finally:
        await conn.close()
