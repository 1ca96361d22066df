"""The whole log as JSON Lines, one event a line: export it, and import it into an empty database."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import IO, Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from events import migrate, projections, snapshots, store
from events.database import read_transaction, write_transaction
from events.dialect import dialect_of
from events.operations.check import LogVerifier, schema_problem
from events.operations.progress import Progress
from events.serialization import utc
from events.store import RecordedEvent
from events.tables import event_links, events, history_snapshots

BATCH = 5000
log = logging.getLogger("mailreg.portability")
FIELDS = (
    "position",
    "streamId",
    "streamVersion",
    "type",
    "schemaVersion",
    "data",
    "actor",
    "correlationId",
    "occurredAt",
)


class ImportRefusedError(Exception):
    """The input or the database does not allow the import; nothing was written."""

    def __init__(self, problems: Sequence[str], count: int | None = None) -> None:
        super().__init__("; ".join(problems))
        self.problems = tuple(problems)
        self.count = len(problems) if count is None else count


class LineError(ValueError):
    """A line that is not one well-formed exported event."""


@dataclass(frozen=True, slots=True)
class ImportReport:
    """What an import wrote."""

    events: int
    streams: int
    servers: int
    list_version: int
    last_position: int


def to_line(entry: RecordedEvent) -> str:
    """One event as a JSON object on one line (no newline at the end)."""
    return json.dumps(
        {
            "position": entry.position,
            "streamId": entry.stream_id,
            "streamVersion": entry.stream_version,
            "type": entry.type,
            "schemaVersion": entry.schema_version,
            "data": entry.data,
            "actor": entry.actor,
            "correlationId": entry.correlation_id,
            "occurredAt": utc(entry.occurred_at).isoformat(),
        },
        ensure_ascii=False,
        separators=(",", ":"),
    )


async def export(engine: AsyncEngine, write: Callable[[str], object], progress: Progress | None = None) -> int:
    """Write every event, oldest first, one line each, from one
    consistent view read in batches. Returns how many."""
    count, after = 0, 0
    async with read_transaction(engine) as conn:
        while batch := await store.read(conn, after=after, limit=BATCH):
            write("".join(to_line(entry) + "\n" for entry in batch))
            count, after = count + len(batch), batch[-1].position
            if progress is not None:
                progress(count)
    return count


def from_line(text: str) -> RecordedEvent:
    """Parse one exported line and check its shape; raises LineError. The
    payload itself is read by LogVerifier."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise LineError(f"not valid JSON ({error})") from None
    if not isinstance(value, dict):
        raise LineError("not a JSON object")
    missing = [key for key in FIELDS if key not in value]
    unknown = sorted(set(value) - set(FIELDS))
    if missing or unknown:
        pairs = (("missing", missing), ("unknown", unknown))
        wrong = [f"{what} {', '.join(keys)}" for what, keys in pairs if keys]
        raise LineError("; ".join(wrong))
    if not isinstance(value["data"], dict):
        raise LineError("data is not a JSON object")
    return RecordedEvent(
        position=_integer(value, "position", 2**63 - 1),
        stream_id=_text(value, "streamId", 64),
        stream_version=_integer(value, "streamVersion", 2**31 - 1),
        type=_text(value, "type", 64),
        schema_version=_integer(value, "schemaVersion", 2**15 - 1),
        data=value["data"],
        actor=_text(value, "actor", 255),
        correlation_id=None if value["correlationId"] is None else _text(value, "correlationId", 255),
        occurred_at=_time(value["occurredAt"]),
    )


def _integer(value: dict[str, Any], key: str, maximum: int) -> int:
    number = value[key]
    if not isinstance(number, int) or isinstance(number, bool) or not 1 <= number <= maximum:
        raise LineError(f"{key} is not an integer from 1 to {maximum}: {number!r}")
    return number


def _text(value: dict[str, Any], key: str, longest: int) -> str:
    text = value[key]
    if not isinstance(text, str) or not 1 <= len(text) <= longest:
        raise LineError(f"{key} is not a string of 1 to {longest} characters: {text!r:.80}")
    return text


def _time(text: Any) -> datetime:
    try:
        moment = datetime.fromisoformat(text) if isinstance(text, str) else None
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise LineError(f"occurredAt is not an ISO 8601 time with an offset: {text!r:.80}")
    return utc(moment)  # SQLite keeps no offset: store every time as UTC


def _entries(source: IO[bytes]) -> Iterator[tuple[str, RecordedEvent | LineError]]:
    for number, raw in enumerate(source, start=1):
        where = f"line {number}"
        try:
            text = raw.decode("utf-8").rstrip("\r\n")
        except UnicodeDecodeError:
            yield where, LineError("not UTF-8")
            continue
        if not text.strip():
            continue
        try:
            yield where, from_line(text)
        except LineError as error:
            yield where, error


def verify(source: IO[bytes], progress: Progress | None = None) -> LogVerifier:
    """Read the whole input as `mailreg check` reads a log; nothing is written.
    `progress` hears how many lines were read, every BATCH lines and at the end."""
    verifier = LogVerifier()
    lines = 0
    for lines, (where, entry) in enumerate(_entries(source), start=1):
        if isinstance(entry, LineError):
            verifier.problems.add(f"{where}: {entry}")
        else:
            verifier.feed(entry, where)
        if progress is not None and lines % BATCH == 0:
            progress(lines)
    if progress is not None:
        progress(lines)
    return verifier


async def import_log(
    engine: AsyncEngine,
    source: IO[bytes],
    *,
    upgrade: bool,
    checked: Progress | None = None,
    written: Progress | None = None,
) -> ImportReport:
    """Load an exported log into a database without events, keeping positions,
    streams, actors and times, with its event_links and read model: all in one
    transaction, and only once every line has been read and checked. With
    `upgrade` (the embedded SQLite store) the schema is migrated once the input
    checks out; otherwise it must be current. `source` is read twice: `checked`
    hears how many lines the first reading checked, `written` how many events were written."""
    problem = await schema_problem(engine)
    if problem is not None and not upgrade:
        raise ImportRefusedError([problem])
    if problem is None:
        async with engine.connect() as conn:
            await _refuse_unless_empty(conn)
    verified = verify(source, checked)
    if verified.problems.count:
        raise ImportRefusedError(verified.problems.lines(), verified.problems.count)
    if not verified.count:
        # Most likely a failed export upstream in a pipe: an empty log is worth nothing to import.
        raise ImportRefusedError(["the input holds no events: nothing to import"])
    if upgrade:
        await migrate.upgrade(engine)
    source.seek(0)
    async with write_transaction(engine) as conn:
        await _refuse_unless_empty(conn)
        # Snapshots of whatever log this database held before cannot describe this one.
        await conn.execute(history_snapshots.delete())
        verifier = await _write(conn, source, written)
        server_list = verifier.fold.freeze()
        await projections.replace_all(conn, server_list, verifier.last_position, verifier.last_occurred_at)
        if verifier.last_position:
            await dialect_of(engine).move_identity_past(conn, verifier.last_position)
            # Wake the live feeds of any running instance, as an append would.
            await projections.save_checkpoint(conn, verifier.last_position, server_list.list_version, notify=True)
    try:
        await snapshots.backfill(engine)
    except Exception:  # the import itself is committed; `serve` writes what is missing
        log.warning("history snapshots of the imported log were not written", exc_info=True)
    return ImportReport(
        verifier.count, len(verifier.versions), len(server_list.order), server_list.list_version, verifier.last_position
    )


async def _write(conn: AsyncConnection, source: IO[bytes], progress: Progress | None = None) -> LogVerifier:
    verifier = LogVerifier()
    rows: list[dict[str, Any]] = []
    links: list[dict[str, Any]] = []
    for where, entry in _entries(source):
        touched = None if isinstance(entry, LineError) else verifier.feed(entry, where)
        if isinstance(entry, LineError) or touched is None or verifier.problems.count:
            raise ImportRefusedError([f"{where}: the input changed while it was imported"])
        rows.append(
            {
                "position": entry.position,
                "stream_id": entry.stream_id,
                "stream_version": entry.stream_version,
                "type": entry.type,
                "schema_version": entry.schema_version,
                "data": entry.data,
                "actor": entry.actor,
                "correlation_id": entry.correlation_id,
                "occurred_at": entry.occurred_at,
            }
        )
        links.extend({"stream_id": stream_id, "position": entry.position} for stream_id in touched)
        if len(rows) >= BATCH:
            await _flush(conn, rows, links)
            if progress is not None:
                progress(verifier.count)
    await _flush(conn, rows, links)
    if progress is not None:
        progress(verifier.count)
    return verifier


async def _flush(conn: AsyncConnection, rows: list[dict[str, Any]], links: list[dict[str, Any]]) -> None:
    if rows:
        await conn.execute(events.insert(), rows)
    if links:
        await conn.execute(event_links.insert(), links)
    rows.clear()
    links.clear()


async def _refuse_unless_empty(conn: AsyncConnection) -> None:
    count = int((await conn.execute(sa.select(sa.func.count()).select_from(events))).scalar_one())
    linked = int((await conn.execute(sa.select(sa.func.count()).select_from(event_links))).scalar_one())
    if count or linked:
        raise ImportRefusedError(
            [
                f"the database already holds {count} events ({linked} event links): "
                + "import only into an empty database; nothing was changed",
            ]
        )
