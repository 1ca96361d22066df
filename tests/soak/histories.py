"""Small recorded histories for the checker's tests: a clean one, built from
a four-event log, which each test then spoils in one way."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from bench.soak.history import History
from bench.soak.model import Timeline

Json = dict[str, Any]


def server(server_id: str, code: str, version: int = 1, name: str | None = None) -> Json:
    return {
        "id": server_id,
        "code": code,
        "name": name or f"Server {code}",
        "position": 0,
        "oauthProvider": None,
        "version": version,
        "outgoing": {
            "host": "smtp.example.com",
            "port": 25,
            "encryption": "NONE",
            "authMethod": "NONE",
            "credentials": None,
            "timeoutSeconds": 60,
        },
        "incoming": {
            "protocol": "POP3",
            "host": "pop.example.com",
            "port": 110,
            "useTls": False,
            "useApop": False,
            "timeoutSeconds": 60,
        },
    }


def event(position: int, rid: str, type_: str, stream: str, version: int, **extra: Any) -> Json:
    return {
        "position": str(position),
        "streamId": stream,
        "streamVersion": version,
        "type": type_,
        "actor": "soak-admin",
        "correlationId": rid,
        **extra,
    }


def added(position: int, rid: str, server_id: str, code: str) -> Json:
    return event(position, rid, "ServerAdded", server_id, 1, server=server(server_id, code))


def renamed(position: int, rid: str, server_id: str, version: int, before: str, after: str) -> Json:
    return event(
        position,
        rid,
        "ServerChanged",
        server_id,
        version,
        changes=[{"field": "name", "before": before, "after": after}],
    )


@dataclass
class Story:
    """A history under construction; `history()` gives what the checker reads."""

    log: list[Json] = field(default_factory=list)
    records: list[Json] = field(default_factory=list)
    final: Json = field(default_factory=dict)

    def timeline(self) -> Timeline:
        return Timeline.fold(self.log)

    def mutation(self, rid: str, op: str, input: Json, payload: Json | None, at: float, **extra: Any) -> Json:
        record = {
            "client": extra.pop("client", "writer-0"),
            "type": "mutation",
            "op": op,
            "rid": rid,
            "instance": 0,
            "input": input,
            "idem": None,
            "bad": False,
            "sent": at,
            "received": at + 0.1,
            "outcome": "ok" if payload is not None else "cut",
            "payload": payload,
            "codes": [],
            **extra,
        }
        self.records.append(record)
        return record

    def read(self, op: str, result: Any, when: float, client: str = "reader-0", **args: Any) -> Json:
        record = {
            "client": client,
            "type": "read",
            "op": op,
            "instance": 1,
            "args": args,
            "sent": when,
            "received": when + 0.1,
            "outcome": "ok",
            "result": result,
        }
        self.records.append(record)
        return record

    def deliver(self, client: str, field_: str, data: Any, at: float, connection: int = 1) -> None:
        self.records.append(
            {"client": client, "type": "next", "field": field_, "connection": connection, "at": at, "data": data}
        )

    def subscribe(self, client: str, field_: str, at: float, after: int | None = None, connection: int = 1) -> None:
        record = {"client": client, "type": "subscribe", "field": field_, "connection": connection, "at": at}
        if after is not None:
            record["after"] = str(after)
        self.records.append(record)

    def history(self) -> History:
        return History(
            records=copy.deepcopy(self.records), log=copy.deepcopy(self.log), final=copy.deepcopy(self.final)
        )


def listed(timeline: Timeline, position: int) -> Json:
    """The list at `position` as mailServers would answer it."""
    result = timeline.listed(position)
    for item in result["items"]:
        item.update(server(item["id"], item["code"], item["version"], item["name"]) | {"position": item["position"]})
    return result


def choices(timeline: Timeline, position: int) -> list[Json]:
    return [{"id": i, "code": c, "name": n} for i, c, n in timeline.choices(position)]


def clean() -> Story:
    """Two adds, a rename with expectedVersion, a reorder; read, subscribed to, checked."""
    story = Story()
    story.log = [
        added(1, "r1", "s1", "alpha"),
        added(2, "r2", "s2", "beta"),
        renamed(3, "r3", "s1", 2, "Server alpha", "Renamed"),
        event(4, "r4", "ServersReordered", "mail-server-list", 1, before=["s1", "s2"], after=["s2", "s1"]),
    ]
    timeline = story.timeline()
    story.mutation("r1", "addMailServer", {"code": "alpha"}, {"server": server("s1", "alpha"), "errors": []}, 1.0)
    story.mutation("r2", "addMailServer", {"code": "beta"}, {"server": server("s2", "beta"), "errors": []}, 2.0)
    story.mutation(
        "r3",
        "changeMailServer",
        {"id": "s1", "expectedVersion": 1, "name": "Renamed"},
        {"server": server("s1", "alpha", 2, "Renamed"), "errors": []},
        3.0,
    )
    story.mutation("r4", "reorderMailServers", {"ids": ["s2", "s1"]}, {"list": listed(timeline, 4), "errors": []}, 4.0)
    story.read("mailServers", listed(timeline, 2), 2.5)
    story.read("mailServers", listed(timeline, 4), 4.5, client="reader-1")
    story.read("mailServerChoices", choices(timeline, 4), 4.6)
    story.read("mailServersAsOf", listed(timeline, 3), 4.7, position="3")
    story.read(
        "events",
        {"edges": [{"node": copy.deepcopy(n)} for n in story.log[1:]], "pageInfo": {"hasNextPage": False}},
        4.8,
        first=10,
        after="1",
    )
    story.subscribe("sub-0-events", "mailServerEvents", 1.5, after=1)
    for n, node in enumerate(story.log[1:], start=2):
        story.deliver("sub-0-events", "mailServerEvents", copy.deepcopy(node), n + 0.2)
    story.subscribe("sub-0-choices", "mailServerChoicesChanged", 1.5)
    story.deliver("sub-0-choices", "mailServerChoicesChanged", choices(timeline, 1), 1.6)
    story.deliver("sub-0-choices", "mailServerChoicesChanged", choices(timeline, 4), 4.2)
    story.final = {
        "seed": 7,
        "check": {"exit": 0, "output": "ok"},
        "before_rebuild": listed(timeline, 4),
        "after_rebuild": listed(timeline, 4),
        "final_lists": [listed(timeline, 4), listed(timeline, 4)],
    }
    return story
