"""Group commit's decisions: the commands of one batch decided one after another
against the evolving state, each keeping its own outcome, and what the batch's
one transaction must write."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from domain.commands import Command
from domain.decide import decide
from domain.errors import IdempotencyKeyReusedError
from domain.events import AllServersDeleted, Event, EventMeta, ServerDeleted, ServersReordered, stream_of
from domain.state import Fold, ServerList, touched
from events.serialization import JsonDict, to_payload
from events.store import RecordedEvent

Respond = Callable[[ServerList, Sequence[Event]], JsonDict]
KeyRef = tuple[str, str]  # (actor, idempotency key)


@dataclass(frozen=True, slots=True, kw_only=True)
class Request:
    """Who asks, and how to recognise a retry of the same request."""

    actor: str
    correlation_id: str | None = None
    idempotency_key: str | None = None
    fingerprint: JsonDict = field(default_factory=dict)

    def request_hash(self) -> str:
        """A digest of the request's fingerprint, equal for equal requests."""
        text = json.dumps(self.fingerprint, sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(text.encode()).hexdigest()

    @property
    def key_ref(self) -> KeyRef | None:
        return None if self.idempotency_key is None else (self.actor, self.idempotency_key)


@dataclass(frozen=True, slots=True, kw_only=True)
class Outcome:
    """What a command did: the response, the events recorded, and whether it was a retry."""

    response: JsonDict
    recorded: tuple[RecordedEvent, ...]
    retried: bool


@dataclass(frozen=True, slots=True)
class CurrentList:
    """The server list as of the committed event at `position`."""

    position: int
    server_list: ServerList
    # Not part of equality: SQLite hands it back without its offset.
    last_occurred_at: datetime | None = field(default=None, compare=False)


@dataclass(slots=True, eq=False)
class Pending:
    """A command waiting for the next batch, and where its outcome goes."""

    command: Command
    request: Request
    respond: Respond
    future: asyncio.Future[Outcome]


@dataclass(frozen=True, slots=True, kw_only=True)
class Step:
    """One event to append: its row in the log and the streams it also touched."""

    event: Event
    row: dict[str, Any]
    links: tuple[str, ...]


@dataclass(slots=True, kw_only=True)
class Decided:
    pending: Pending
    response: JsonDict | None = None
    error: BaseException | None = None
    retried: bool = False
    steps: range = range(0)


@dataclass(slots=True, kw_only=True)
class Plan:
    """What one batch writes, and each command's outcome once it is written."""

    start: CurrentList
    occurred_at: datetime
    after: ServerList
    steps: list[Step]
    keys: list[dict[str, Any]]
    decided: list[Decided]
    touched: set[str]  # servers added or changed in place
    reshaped: bool  # a reorder or a delete moved other servers' positions
    new_versions: dict[str, int]  # streams not live after the batch: their newest version

    def outcomes(
        self, positions: Sequence[int]
    ) -> tuple[list[tuple[Pending, Outcome | BaseException]], list[RecordedEvent]]:
        """Each command's outcome, and every event written, once the batch got `positions`."""
        recorded = [RecordedEvent(position=p, **step.row) for p, step in zip(positions, self.steps, strict=True)]
        results: list[tuple[Pending, Outcome | BaseException]] = []
        for item in self.decided:
            if item.error is not None:
                results.append((item.pending, item.error))
            else:
                assert item.response is not None
                outcome = Outcome(
                    response=item.response, recorded=tuple(recorded[i] for i in item.steps), retried=item.retried
                )
                results.append((item.pending, outcome))
        return results, recorded


def event_time(last: datetime | None) -> datetime:
    """Now, but never before the newest event: occurred_at follows position
    even when instances' clocks disagree, so the log's times are a prefix order."""
    now = datetime.now(UTC)
    if last is None:
        return now
    last = last.replace(tzinfo=UTC) if last.tzinfo is None else last
    return max(now, last)


def plan(
    batch: Sequence[Pending],
    start: CurrentList,
    stored: Mapping[KeyRef, tuple[str, JsonDict]],
    versions: Mapping[str, int],
) -> Plan:
    """Decide every command of `batch` in arrival order on the state the ones
    before it left. A rejected command keeps its error and adds nothing; a retry
    of a key stored before, or used earlier in the batch, gets that reply.
    `versions` holds the newest version of streams that are not live servers
    (deleted servers, the list stream); a stream missing there is new."""
    occurred_at = event_time(start.last_occurred_at)
    state = start.server_list
    fold = Fold(state)
    known = dict(versions)
    steps: list[Step] = []
    keys: list[dict[str, Any]] = []
    decided: list[Decided] = []
    in_batch: dict[KeyRef, tuple[str, JsonDict]] = {}
    changed: set[str] = set()
    reshaped = False
    for pending in batch:
        request = pending.request
        ref = request.key_ref
        item = Decided(pending=pending)
        decided.append(item)
        digest = request.request_hash() if ref is not None else ""
        if ref is not None:
            earlier = stored.get(ref) or in_batch.get(ref)
            if earlier is not None:
                if earlier[0] != digest:
                    item.error = IdempotencyKeyReusedError()
                else:
                    item.response, item.retried = earlier[1], True
                continue
        try:
            new_events = decide(pending.command, state)
        except Exception as error:  # a rejection, or a bug: it fails this command alone
            item.error = error
            continue
        first = len(steps)
        for event in new_events:
            stream = stream_of(event)
            live = fold.servers.get(stream)
            version = (live.version if live is not None else known.get(stream, 0)) + 1
            name, schema_version, data = to_payload(event)
            links: tuple[str, ...] = ()
            match event:
                case ServersReordered() | AllServersDeleted():
                    links = tuple(touched(event, fold.freeze()))
                    reshaped = True
                case ServerDeleted():
                    reshaped = True
                case _:
                    changed.add(stream)
            row = {
                "stream_id": stream,
                "stream_version": version,
                "type": name,
                "schema_version": schema_version,
                "data": data,
                "actor": request.actor,
                "correlation_id": request.correlation_id,
                "occurred_at": occurred_at,
            }
            steps.append(Step(event=event, row=row, links=links))
            if isinstance(event, AllServersDeleted):
                known.update({i: fold.servers[i].version for i in event.server_ids})
            fold.apply(event, EventMeta(stream_version=version, occurred_at=occurred_at))
            if stream not in fold.servers:
                known[stream] = version
        if new_events:
            state = fold.freeze()
        try:
            item.response = pending.respond(state, new_events)
        except Exception as error:  # the reply cannot be built: decide the batch again without this command
            again = plan([p for p in batch if p is not pending], start, stored, versions)
            again.decided.append(Decided(pending=pending, error=error))
            return again
        item.steps = range(first, len(steps))
        if ref is not None:
            in_batch[ref] = (digest, item.response)
            keys.append(
                {
                    "actor": request.actor,
                    "key": request.idempotency_key,
                    "request_hash": digest,
                    "response": item.response,
                    "created_at": occurred_at,
                }
            )
    return Plan(
        start=start,
        occurred_at=occurred_at,
        after=state,
        steps=steps,
        keys=keys,
        decided=decided,
        touched=changed,
        reshaped=reshaped,
        new_versions={s: v for s, v in known.items() if s not in state.servers},
    )
