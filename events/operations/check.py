"""`mailreg check`: the log is well formed, and the read model equals a rebuild of it."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any, assert_never

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from domain.events import (
    AllServersDeleted,
    Event,
    ServerAdded,
    ServerChanged,
    ServerDeleted,
    ServersReordered,
    stream_of,
)
from domain.model import fields
from domain.state import Fold, ServerList, touched
from events import migrate, projections, store
from events.database import read_transaction
from events.operations.progress import Progress
from events.serialization import UnreadablePayloadError, from_payload, utc
from events.store import RecordedEvent
from events.tables import SERVER_LIST, event_links, projection_state, servers

BATCH = 5000
KEPT = 200
"""Problems kept word for word; beyond that they are only counted."""


class Problems:
    """Problems found, the first KEPT word for word and the rest counted."""

    def __init__(self) -> None:
        self.kept: list[str] = []
        self.count = 0

    def add(self, problem: str) -> None:
        """Count a problem, keeping its words while there is room."""
        self.count += 1
        if len(self.kept) < KEPT:
            self.kept.append(problem)

    def lines(self) -> list[str]:
        """The kept problems, then how many more there are."""
        more = self.count - len(self.kept)
        return self.kept + ([f"... and {more} more"] if more else [])


class LogVerifier:
    """Checks events fed to it oldest first and folds them into the list they make.

    After the first event that breaks a rule of the list the fold stops: the
    state after it would mean nothing. The log's own shape is checked to the end."""

    def __init__(self) -> None:
        self.problems = Problems()
        self.fold = Fold()
        self.versions: dict[str, int] = {}
        self.count = 0
        self.last_position = 0
        self.last_occurred_at: datetime | None = None
        self.folding = True
        self._codes: dict[str, str] = {}  # code -> live server id, exact while folding

    def feed(self, entry: RecordedEvent, where: str) -> list[str] | None:
        """Check and fold one event. Returns the other streams it touched (its
        event_links), or None once the fold has stopped."""
        self.count += 1
        if entry.position <= self.last_position:
            self.problems.add(f"{where}: position {entry.position} does not follow {self.last_position}")
        self.last_position = max(self.last_position, entry.position)
        # Point-in-time views take the events up to a time as a prefix of the log.
        if self.last_occurred_at is not None and entry.occurred_at < self.last_occurred_at:
            self.problems.add(
                f"{where}: occurred at {entry.occurred_at.isoformat()}, before the event ahead "
                f"of it ({self.last_occurred_at.isoformat()})"
            )
        self.last_occurred_at = max(self.last_occurred_at or entry.occurred_at, entry.occurred_at)
        self._check_version(entry, where)
        try:
            event = from_payload(entry.type, entry.schema_version, entry.data)
        except Exception as error:  # noqa: BLE001 - from_payload's checks are not exhaustive (asserts)
            reason = str(error) if isinstance(error, UnreadablePayloadError) else repr(error)
            self._stop(where, f"unreadable payload: {reason}")
            return None
        if not self.folding:
            return None
        if stream_of(event) != entry.stream_id:
            self._stop(where, f"a {entry.type} for {stream_of(event)} stored on stream {entry.stream_id}")
            return None
        # A view of the fold, not a copy: read it only before `apply`.
        before = ServerList(servers=self.fold.servers, order=tuple(self.fold.order))
        broken = self._broken_rule(event, before)
        if broken is not None:
            self._stop(where, f"{entry.type}: {broken}")
            return None
        links = touched(event, before)
        held = before.servers.get(entry.stream_id)
        try:
            self.fold.apply(event, entry.meta)
        except Exception as error:  # noqa: BLE001 - a payload the fold cannot apply is a finding
            self._stop(where, f"{entry.type} cannot be applied: {error!r}")
            return None
        self._index(event, None if held is None else held.code)
        return links

    def _check_version(self, entry: RecordedEvent, where: str) -> None:
        last, version = self.versions.get(entry.stream_id, 0), entry.stream_version
        stream = f"{where}: stream {entry.stream_id}: version {version} after {last}"
        if version > last + 1:
            missing = f"version {last + 1}" if version == last + 2 else f"versions {last + 1}-{version - 1}"
            self.problems.add(f"{stream} ({missing} missing)")
        elif version <= last:
            self.problems.add(f"{stream} (a duplicate or out of order)")
        self.versions[entry.stream_id] = max(last, version)

    def _stop(self, where: str, problem: str) -> None:
        self.problems.add(f"{where}: {problem}")
        if self.folding:
            self.folding = False
            self.problems.add(f"{where}: the list is not folded past this event")

    def _broken_rule(self, event: Event, before: ServerList) -> str | None:
        live = before.servers
        match event:
            case ServerAdded():
                if event.server_id in live:
                    return f"server {event.server_id} is already in the list"
                if event.position and event.position != len(before.order) + 1:
                    return f"lands at position {event.position} of a list of {len(before.order)}"
                return self._taken(event.settings.code, event.server_id)
            case ServerChanged():
                if event.server_id not in live:
                    return f"server {event.server_id} is not in the list"
                current = fields(live[event.server_id].settings)
                for change in event.changes:
                    if change.field not in current or current[change.field] != change.before:
                        return f"{change.field} was {current.get(change.field)!r}, not {change.before!r}"
                    if change.before == change.after:
                        return f"{change.field} did not change ({change.after!r})"
                    if change.field == "code" and isinstance(change.after, str):
                        taken = self._taken(change.after, event.server_id)
                        if taken is not None:
                            return taken
                return None
            case ServerDeleted():
                return None if event.server_id in live else f"server {event.server_id} is not in the list"
            case ServersReordered():
                if event.before != before.order:
                    return f"says the order was {list(event.before)}, it was {list(before.order)}"
                if sorted(event.after) != sorted(before.order):
                    return f"new order {list(event.after)} is not a permutation of {list(before.order)}"
                return None
            case AllServersDeleted():
                if set(event.server_ids) != set(before.order):
                    return f"deletes {list(event.server_ids)}, the list held {list(before.order)}"
                return None
            case _:
                assert_never(event)

    def _taken(self, code: str, server_id: str) -> str | None:
        holder = self._codes.get(code)
        return None if holder in (None, server_id) else f"code {code!r} is already held by server {holder}"

    def _index(self, event: Event, old_code: str | None) -> None:
        match event:
            case ServerAdded():
                self._codes[event.settings.code] = event.server_id
            case ServerChanged() | ServerDeleted():
                if old_code is not None:
                    self._codes.pop(old_code, None)
                server = self.fold.servers.get(event.server_id)
                if server is not None:
                    self._codes[server.code] = server.id
            case AllServersDeleted():
                self._codes.clear()
            case ServersReordered():
                pass
            case _:
                assert_never(event)


@dataclass(frozen=True, slots=True)
class CheckReport:
    """What `mailreg check` found: counts, and the problems if any."""

    events: int
    streams: int
    servers: int
    problems: tuple[str, ...]
    """The first KEPT problems word for word, then how many more there are."""
    problem_count: int

    @property
    def consistent(self) -> bool:
        """Whether the check found no problem."""
        return self.problem_count == 0

    def summary(self) -> str:
        """The counts in one line."""
        return f"{self.events} events, {self.streams} streams, {self.servers} servers"


async def schema_problem(engine: AsyncEngine) -> str | None:
    """Why the schema is not ready for use, or None when it is at the newest revision."""
    current = await migrate.current(engine)
    if current == migrate.head():
        return None
    revision = current or "none"
    return f"the database schema is at revision {revision}, not {migrate.head()}: run `mailreg migrate`"


async def check(engine: AsyncEngine, progress: Progress | None = None) -> CheckReport:
    """Verify the whole log and compare the read model with a rebuild, all in
    one consistent view, reading the log in batches; `progress` hears how many
    events were verified so far after each batch."""
    problem = await schema_problem(engine)
    if problem is not None:
        return CheckReport(0, 0, 0, (problem,), 1)
    verifier = LogVerifier()
    problems = verifier.problems
    async with read_transaction(engine) as conn:
        after = 0
        while batch := await store.read(conn, after=after, limit=BATCH):
            stored = await _links(conn, after, batch[-1].position)
            for entry in batch:
                where = f"position {entry.position}"
                expected = verifier.feed(entry, where)
                found = sorted(stored.pop(entry.position, []))
                if expected is not None and sorted(expected) != found:
                    problems.add(f"{where}: event_links name {found}, the event touched {sorted(expected)}")
            for position, streams in sorted(stored.items()):
                problems.add(f"event_links: position {position} has no event (streams {sorted(streams)})")
            after = batch[-1].position
            if progress is not None:
                progress(verifier.count)
        for position, streams in sorted((await _links(conn, after, None)).items()):
            problems.add(f"event_links: position {position} has no event (streams {sorted(streams)})")
        server_list = verifier.fold.freeze()
        if verifier.folding:
            for line in await _read_model_problems(conn, server_list, verifier):
                problems.add(f"read model: {line}")
        else:
            problems.add("read model: not compared, the log could not be folded")
    return CheckReport(
        verifier.count, len(verifier.versions), len(server_list.order), tuple(problems.lines()), problems.count
    )


async def _links(conn: AsyncConnection, after: int, until: int | None) -> dict[int, list[str]]:
    query = sa.select(event_links.c.position, event_links.c.stream_id).where(event_links.c.position > after)
    if until is not None:
        query = query.where(event_links.c.position <= until)
    grouped: dict[int, list[str]] = defaultdict(list)
    for row in await conn.execute(query):
        grouped[int(row.position)].append(row.stream_id)
    return grouped


async def _read_model_problems(conn: AsyncConnection, rebuilt: ServerList, log: LogVerifier) -> list[str]:
    problems: list[str] = []
    state = (
        await conn.execute(
            sa.select(
                projection_state.c.position, projection_state.c.list_version, projection_state.c.last_occurred_at
            ).where(projection_state.c.name == SERVER_LIST)
        )
    ).first()
    if state is None:
        problems.append(f"projection_state has no {SERVER_LIST!r} row")
    else:
        if state.position != log.last_position:
            problems.append(f"checkpoint at position {state.position}, the last event is at {log.last_position}")
        if state.list_version != rebuilt.list_version:
            problems.append(f"list version {state.list_version}, a rebuild gives {rebuilt.list_version}")
        # None until the first write after migration 0003, which is harmless.
        last_time = None if state.last_occurred_at is None else utc(state.last_occurred_at)
        if last_time is not None and last_time != log.last_occurred_at:
            shown = None if log.last_occurred_at is None else log.last_occurred_at.isoformat()
            problems.append(f"last_occurred_at {last_time.isoformat()}, the last event occurred at {shown}")
    rows = [dict(row._mapping) for row in await conn.execute(servers.select().order_by(servers.c.position))]
    order = [row["id"] for row in rows]
    if order != list(rebuilt.order):
        problems.append(f"order {order}, a rebuild gives {list(rebuilt.order)}")
    if [row["position"] for row in rows] != list(range(1, len(rows) + 1)):
        problems.append(f"positions {[row['position'] for row in rows]}, not 1..{len(rows)}")
    stored = {row["id"]: row for row in rows}
    for server in rebuilt.ordered():
        row = stored.pop(server.id, None)
        if row is None:
            problems.append(f"server {server.id} ({server.code}) is missing")
            continue
        for key, value in projections.server_row(server, 0).items():
            stored_value = _plain(row[key])
            if key != "position" and stored_value != value:
                problems.append(f"server {server.id}: {key} is {stored_value!r}, a rebuild gives {value!r}")
    problems.extend(f"server {i} ({row['code']}) is not in a rebuild" for i, row in stored.items())
    return problems


def _plain(value: Any) -> Any:
    return utc(value) if isinstance(value, datetime) else value
