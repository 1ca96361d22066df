"""Write throughput with one writer: mailreg's event store API in process, the
raw asyncpg ceiling, and the `eventsourcing` library on the same PostgreSQL."""

from __future__ import annotations

import asyncio
import functools
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
    cpu_seconds: float = float("nan")  # this process's CPU over the window (all its threads)

    @property
    def per_second(self) -> float:
        return self.count / self.seconds if self.seconds > 0 else float("nan")

    @property
    def cpu_ms_each(self) -> float:
        return self.cpu_seconds * 1000 / self.count if self.count else float("nan")


def best(results: list[Throughput]) -> Throughput:
    """The fastest of repeated windows: the one least disturbed by other work on the machine."""
    return max(results, key=lambda r: r.per_second)


async def registry_appends(
    database: Database, server_id: str, duration: float, warmup: float, profiler: Any = None
) -> Throughput:
    """MailServerService.execute(ChangeServer) on one server, one asyncio task:
    each command is one ServerChanged event, appended and projected in its own
    transaction. Counts events appended per second."""
    from events.application.service import MailServerService, Request
    from events.database import create_engine

    engine = create_engine(database.url)
    service = MailServerService(engine, own_connection=True)  # as `mailreg serve` runs it
    request = Request(actor="bench-writer")

    def respond(_registry: Any, _events: Any) -> dict[str, Any]:
        return {}

    async def one(n: int) -> int:
        outcome = await service.execute(ChangeServer(server_id=server_id, name=f"Append bench {n}"), request, respond)
        return len(outcome.recorded)

    try:
        n = 0
        deadline = time.perf_counter() + warmup
        while time.perf_counter() < deadline:
            n += 1
            await one(n)
        if profiler is not None:
            profiler.start()
        count, started, cpu = 0, time.perf_counter(), time.process_time()
        deadline = started + duration
        while time.perf_counter() < deadline:
            n += 1
            count += await one(n)
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
        if profiler is not None:
            profiler.stop()
        return Throughput(count, elapsed, cpu)
    finally:
        await service.close()
        await engine.dispose()


RAW_SERVER_COLUMNS = (
    "id, code, name, position, oauth_provider, outgoing_host, outgoing_port, outgoing_encryption, "
    "outgoing_auth_method, outgoing_credentials, outgoing_timeout_seconds, incoming_protocol, incoming_host, "
    "incoming_port, incoming_use_tls, incoming_use_apop, incoming_timeout_seconds, version, created_at, updated_at"
)


_RAW_INSERT = (
    "INSERT INTO bench_raw_events (stream_id, stream_version, type, schema_version, data, actor, "
    "correlation_id, occurred_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING position"
)
_RAW_UPSERT = (
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


async def raw_ceiling(database: Database, duration: float, warmup: float, connections: int = 1) -> Throughput:
    """Raw asyncpg on `connections` connections, one transaction at a time on
    each: per transaction, insert one event row (a real ServerChanged payload,
    JSON-encoded per row) and upsert one read-model row (every column), into
    copies of `events` and `servers` made with CREATE TABLE ... (LIKE ...
    INCLUDING ALL) so the real tables stay untouched. With several connections
    each writes its own stream, and nothing orders them."""
    admin = await asyncpg.connect(database.dsn)
    await admin.execute("DROP TABLE IF EXISTS bench_raw_events, bench_raw_servers")
    await admin.execute("CREATE TABLE bench_raw_events (LIKE events INCLUDING ALL)")
    await admin.execute("CREATE TABLE bench_raw_servers (LIKE servers INCLUDING ALL)")
    conns = [await asyncpg.connect(database.dsn) for _ in range(connections)]
    try:
        counts = [0] * connections
        measuring = False
        stop_at = time.perf_counter() + warmup + duration + 3600

        async def writer(index: int) -> None:
            conn = conns[index]
            insert = await conn.prepare(_RAW_INSERT)
            upsert = await conn.prepare(_RAW_UPSERT)
            stream = f"00000000-0000-4000-8000-{index:012d}"
            version = 0
            while time.perf_counter() < stop_at:
                version += 1
                name = f"Raw bench {version}"
                event = ServerChanged(
                    server_id=stream,
                    changes=(FieldChange(field="name", before=f"Raw bench {version - 1}", after=name),),
                )
                type_name, schema_version, data = to_payload(event)
                now = datetime.now(UTC)
                async with conn.transaction():
                    await insert.fetchval(
                        stream, version, type_name, schema_version, json.dumps(data), "bench-writer", None, now
                    )
                    await upsert.fetchval(stream, f"raw-{index}", name, version, now)
                if measuring:
                    counts[index] += 1

        tasks = [asyncio.create_task(writer(i)) for i in range(connections)]
        await asyncio.sleep(warmup)
        measuring = True
        started, cpu = time.perf_counter(), time.process_time()
        stop_at = started + duration
        await asyncio.gather(*tasks)
        return Throughput(sum(counts), time.perf_counter() - started, time.process_time() - cpu)
    finally:
        for conn in conns:
            await conn.close()
        await admin.execute("DROP TABLE IF EXISTS bench_raw_events, bench_raw_servers")
        await admin.close()


async def service_concurrent(
    database: Database, server_ids: list[str], writers: int, duration: float, warmup: float, profiler: Any = None
) -> Throughput:
    """MailServerService.execute(ChangeServer) from `writers` asyncio tasks in
    one process (one service, as one API instance has), each on a server of
    its own: group commit puts what arrives during a commit into the next one.
    Counts events appended per second."""
    from events.application.service import MailServerService, Request
    from events.database import create_engine

    engine = create_engine(database.url)
    service = MailServerService(engine, own_connection=True)  # as `mailreg serve` runs it
    request = Request(actor="bench-writer")
    counts = [0] * writers
    measuring = False
    stop_at = time.perf_counter() + warmup + duration + 3600

    def respond(_registry: Any, _events: Any) -> dict[str, Any]:
        return {}

    async def writer(index: int) -> None:
        server_id = server_ids[index % len(server_ids)]
        n = 0
        while time.perf_counter() < stop_at:
            n += 1
            command = ChangeServer(server_id=server_id, name=f"Concurrent bench {index} #{n}")
            outcome = await service.execute(command, request, respond)
            if measuring:
                counts[index] += len(outcome.recorded)

    try:
        tasks = [asyncio.create_task(writer(i)) for i in range(writers)]
        await asyncio.sleep(warmup)
        measuring = True
        if profiler is not None:
            profiler.start()
        started = time.perf_counter()
        stop_at = started + duration
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - started
        if profiler is not None:
            profiler.stop()
        return Throughput(sum(counts), elapsed)
    finally:
        await service.close()
        await engine.dispose()


def library_available() -> bool:
    try:
        import eventsourcing.postgres  # noqa: F401
    except ImportError:
        return False
    return True


@functools.cache
def _library_model() -> tuple[type[Any], type[Any]]:
    """The aggregate and application classes, defined once: the library refuses a second class of one name."""
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

    return MailServer, BenchRegistry


def _library_saves(database: Database, duration: float, warmup: float) -> Throughput:
    MailServer, BenchRegistry = _library_model()
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


async def append_statement_only(duration: float, warmup: float) -> Throughput:
    """What the database and the driver cost per append, without our Python:
    the same one statement the write path sends (mailreg_append) for a
    rename of one server, with its payload built by hand, one call after
    another on one connection. On a database of its own, which is dropped."""
    from events.application.append import _APPEND

    database = await Database.create("statement")
    try:
        await database.migrate()
        conn = await asyncpg.connect(database.dsn)
        try:
            position = await conn.fetchval("SELECT position FROM projection_state WHERE name = 'mail_servers'")
            server_id, version, now = "00000000-0000-4000-8000-00000000000a", 0, datetime.now(UTC)

            def batch(version: int) -> str:
                if version == 1:
                    kind, data = "ServerAdded", {"id": server_id}
                else:
                    change = {"field": "name", "before": f"Statement {version - 1}", "after": f"Statement {version}"}
                    kind, data = "ServerChanged", {"id": server_id, "changes": [change]}
                at = datetime.now(UTC).isoformat()
                row = {
                    "id": server_id,
                    "code": "statement",
                    "name": f"Statement {version}",
                    "position": 1,
                    "oauth_provider": None,
                    "outgoing_host": "smtp.example.com",
                    "outgoing_port": 587,
                    "outgoing_encryption": "STARTTLS",
                    "outgoing_auth_method": "PLAIN",
                    "outgoing_credentials": "SENDING_ACCOUNT",
                    "outgoing_timeout_seconds": 60,
                    "incoming_protocol": "IMAP4",
                    "incoming_host": "imap.example.com",
                    "incoming_port": 993,
                    "incoming_use_tls": True,
                    "incoming_use_apop": False,
                    "incoming_timeout_seconds": 60,
                    "version": version,
                    "created_at": now.isoformat(),
                    "updated_at": at,
                }
                event = {
                    "stream_id": server_id,
                    "stream_version": version,
                    "type": kind,
                    "schema_version": 1,
                    "data": data,
                    "actor": "bench-writer",
                    "correlation_id": None,
                    "occurred_at": at,
                }
                return json.dumps(
                    {
                        "events": [event],
                        "rows": [row],
                        "replace": [],
                        "links": [],
                        "keys": [],
                        "list_version": 1,
                        "last_occurred_at": at,
                    }
                )

            async def one() -> None:
                nonlocal position, version
                version += 1
                positions = await conn.fetchval(_APPEND, position, batch(version))
                position = positions[-1]

            deadline = time.perf_counter() + warmup
            while time.perf_counter() < deadline:
                await one()
            count, started, cpu = 0, time.perf_counter(), time.process_time()
            deadline = started + duration
            while time.perf_counter() < deadline:
                await one()
                count += 1
            return Throughput(count, time.perf_counter() - started, time.process_time() - cpu)
        finally:
            await conn.close()
    finally:
        await database.drop()
