"""Write throughput with one writer: mailreg's event store API in process, the
raw asyncpg ceiling, and the `eventsourcing` library on the same PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import asyncpg

from bench.infra import Database
from domain.commands import ChangeServer
from domain.events import FieldChange, ServerChanged
from events.serialization import to_payload


@dataclass(frozen=True, slots=True)
class Throughput:
    count: int
    seconds: float

    @property
    def per_second(self) -> float:
        return self.count / self.seconds if self.seconds > 0 else float("nan")


async def registry_appends(
    database: Database, server_id: str, duration: float, warmup: float, profiler: Any = None
) -> Throughput:
    """MailServerService.execute(ChangeServer) on one server, one asyncio task:
    each command is one ServerChanged event, appended and projected in its own
    transaction. Counts events appended per second."""
    from events.application.service import MailServerService, Request
    from events.database import create_engine

    engine = create_engine(database.url)
    registry = MailServerService(engine)
    request = Request(actor="bench-writer")

    def respond(_registry: Any, _events: Any) -> dict[str, Any]:
        return {}

    async def one(n: int) -> int:
        outcome = await registry.execute(ChangeServer(server_id=server_id, name=f"Append bench {n}"), request, respond)
        return len(outcome.recorded)

    try:
        n = 0
        deadline = time.perf_counter() + warmup
        while time.perf_counter() < deadline:
            n += 1
            await one(n)
        if profiler is not None:
            profiler.start()
        count, started = 0, time.perf_counter()
        deadline = started + duration
        while time.perf_counter() < deadline:
            n += 1
            count += await one(n)
        elapsed = time.perf_counter() - started
        if profiler is not None:
            profiler.stop()
        return Throughput(count, elapsed)
    finally:
        await engine.dispose()


RAW_SERVER_COLUMNS = (
    "id, code, name, position, oauth_provider, outgoing_host, outgoing_port, outgoing_encryption, "
    "outgoing_auth_method, outgoing_credentials, outgoing_timeout_seconds, incoming_protocol, incoming_host, "
    "incoming_port, incoming_use_tls, incoming_use_apop, incoming_timeout_seconds, version, created_at, updated_at"
)


async def raw_ceiling(database: Database, duration: float, warmup: float) -> Throughput:
    """Raw asyncpg on one connection: per transaction, insert one event row (a
    real ServerChanged payload, JSON-encoded per row) and upsert one read-model
    row (every column), into copies of `events` and `servers` made with
    CREATE TABLE ... (LIKE ... INCLUDING ALL) so the real tables stay untouched."""
    conn = await asyncpg.connect(database.dsn)
    try:
        await conn.execute("DROP TABLE IF EXISTS bench_raw_events, bench_raw_servers")
        await conn.execute("CREATE TABLE bench_raw_events (LIKE events INCLUDING ALL)")
        await conn.execute("CREATE TABLE bench_raw_servers (LIKE servers INCLUDING ALL)")
        insert = await conn.prepare(
            "INSERT INTO bench_raw_events (stream_id, stream_version, type, schema_version, data, actor, "
            "correlation_id, occurred_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING position"
        )
        upsert = await conn.prepare(
            f"INSERT INTO bench_raw_servers ({RAW_SERVER_COLUMNS}) VALUES ($1, $2, $3, 1, NULL, 'smtp.example.com', "
            "587, 'STARTTLS', 'PLAIN', 'SENDING_ACCOUNT', 60, 'IMAP4', 'imap.example.com', 993, true, false, 60, "
            "$4, $5, $5) ON CONFLICT (id) DO UPDATE SET code = EXCLUDED.code, name = EXCLUDED.name, "
            "position = EXCLUDED.position, oauth_provider = EXCLUDED.oauth_provider, "
            "outgoing_host = EXCLUDED.outgoing_host, outgoing_port = EXCLUDED.outgoing_port, "
            "outgoing_encryption = EXCLUDED.outgoing_encryption, outgoing_auth_method = EXCLUDED.outgoing_auth_method, "
            "outgoing_credentials = EXCLUDED.outgoing_credentials, "
            "outgoing_timeout_seconds = EXCLUDED.outgoing_timeout_seconds, "
            "incoming_protocol = EXCLUDED.incoming_protocol, incoming_host = EXCLUDED.incoming_host, "
            "incoming_port = EXCLUDED.incoming_port, incoming_use_tls = EXCLUDED.incoming_use_tls, "
            "incoming_use_apop = EXCLUDED.incoming_use_apop, "
            "incoming_timeout_seconds = EXCLUDED.incoming_timeout_seconds, version = EXCLUDED.version, "
            "updated_at = EXCLUDED.updated_at"
        )
        stream = "00000000-0000-4000-8000-000000000001"
        version = 0

        async def one() -> None:
            nonlocal version
            version += 1
            name = f"Raw bench {version}"
            event = ServerChanged(
                server_id=stream, changes=(FieldChange(field="name", before=f"Raw bench {version - 1}", after=name),)
            )
            type_name, schema_version, data = to_payload(event)
            now = datetime.now(UTC)
            async with conn.transaction():
                await insert.fetchval(
                    stream, version, type_name, schema_version, json.dumps(data), "bench-writer", None, now
                )
                await upsert.fetchval(stream, "raw", name, version, now)

        deadline = time.perf_counter() + warmup
        while time.perf_counter() < deadline:
            await one()
        count, started = 0, time.perf_counter()
        deadline = started + duration
        while time.perf_counter() < deadline:
            await one()
            count += 1
        return Throughput(count, time.perf_counter() - started)
    finally:
        await conn.execute("DROP TABLE IF EXISTS bench_raw_events, bench_raw_servers")
        await conn.close()


def library_available() -> bool:
    try:
        import eventsourcing.postgres  # noqa: F401
    except ImportError:
        return False
    return True


def _library_saves(database: Database, duration: float, warmup: float) -> Throughput:
    from eventsourcing.application import Application
    from eventsourcing.domain import Aggregate, event

    class MailServer(Aggregate):
        @event("Registered")
        def __init__(self, code: str, name: str) -> None:
            self.code = code
            self.name = name

        @event("Changed")
        def change(self, field: str, before: Any, after: Any) -> None:
            setattr(self, field, after)

    class BenchRegistry(Application[UUID]):
        pass

    dsn_name = database.dsn.rsplit("/", 1)[1]
    host_part = database.dsn.split("@", 1)[1].rsplit("/", 1)[0]
    host, _, port = host_part.partition(":")
    user = database.dsn.split("://", 1)[1].split("@", 1)[0].split(":", 1)
    env = {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": dsn_name,
        "POSTGRES_HOST": host,
        "POSTGRES_PORT": port or "5432",
        "POSTGRES_USER": user[0],
        "POSTGRES_PASSWORD": user[1] if len(user) > 1 else "",
        "CREATE_TABLE": "y",
    }
    app = BenchRegistry(env=env)
    try:
        server = MailServer("lib", "Library bench 0")
        app.save(server)
        n = 0

        def one() -> None:
            nonlocal n
            n += 1
            server.change("name", server.name, f"Library bench {n}")
            app.save(server)

        deadline = time.perf_counter() + warmup
        while time.perf_counter() < deadline:
            one()
        count, started = 0, time.perf_counter()
        deadline = started + duration
        while time.perf_counter() < deadline:
            one()
            count += 1
        return Throughput(count, time.perf_counter() - started)
    finally:
        app.close()


async def library_saves(database: Database, duration: float, warmup: float) -> Throughput:
    """The `eventsourcing` library (PyPI, PostgreSQL persistence module, psycopg
    3): one aggregate, one new event per save, one save per transaction, in a
    worker thread (the library is synchronous)."""
    return await asyncio.to_thread(_library_saves, database, duration, warmup)
