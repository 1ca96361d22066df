"""An independent fold of the log (as the API shows it) into the list at every
position, written for the checker: it trusts nothing the server computed
beyond the events themselves, and reports every rule an event breaks."""

from __future__ import annotations

import bisect
import copy
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

Json = dict[str, Any]
ServerKey = tuple[str, int]
ListKey = tuple[int, tuple[ServerKey, ...]]
SETTINGS = ("code", "name", "oauthProvider", "outgoing", "incoming")


def settings_of(server: Json) -> Json:
    """What an administrator sets: everything but id, position, version and timestamps."""
    return {key: copy.deepcopy(server.get(key)) for key in SETTINGS}


def canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def list_key(listed: Json) -> ListKey:
    """What identifies a MailServerList response: its version and each server's (id, version) in order."""
    return int(listed["version"]), tuple((s["id"], int(s["version"])) for s in listed["items"])


@dataclass
class Timeline:
    """The list just after every event of the log, and what broke a rule on the way."""

    positions: list[int] = field(default_factory=list)
    keys: list[ListKey] = field(default_factory=list)
    settings: dict[ServerKey, Json] = field(default_factory=dict)
    by_key: dict[ListKey, int] = field(default_factory=dict)
    events: dict[int, Json] = field(default_factory=dict)
    stream_positions: dict[ServerKey, int] = field(default_factory=dict)
    stream_events: dict[str, list[int]] = field(default_factory=dict)
    deletions_of_all: list[int] = field(default_factory=list)
    times: list[tuple[datetime, int]] = field(default_factory=list)
    problems: list[tuple[str, str]] = field(default_factory=list)

    @classmethod
    def fold(cls, log: list[Json]) -> Timeline:
        timeline = cls()
        live: dict[str, Json] = {}
        order: list[str] = []
        list_version = 0
        stream_versions: dict[str, int] = {}
        last = 0
        latest: datetime | None = None
        # The empty list before the first event is position 0.
        timeline._record(0, list_version, order, live)
        for node in log:
            position = int(node["position"])
            if position <= last:
                timeline.problems.append(("log-rule", f"position {position} follows {last}: not strictly increasing"))
                continue
            last = position
            timeline.events[position] = node
            if node.get("occurredAt"):
                occurred = datetime.fromisoformat(node["occurredAt"])
                if latest is not None and occurred < latest:
                    timeline.problems.append(
                        ("log-rule", f"event {position} occurred at {occurred}, before its predecessor")
                    )
                latest = occurred if latest is None else max(latest, occurred)
                timeline.times.append((occurred, position))
            timeline.stream_positions[(node["streamId"], int(node["streamVersion"]))] = position
            timeline.stream_events.setdefault(node["streamId"], []).append(position)
            if node["type"] == "AllServersDeleted":
                timeline.deletions_of_all.append(position)
            stream, kind, version = node["streamId"], node["type"], int(node["streamVersion"])
            if version != stream_versions.get(stream, 0) + 1:
                previous = stream_versions.get(stream, 0)
                timeline.problems.append(
                    ("log-rule", f"event {position}: stream {stream} version {version} after {previous}")
                )
            stream_versions[stream] = version
            broken = timeline._apply(node, live, order)
            if broken:
                timeline.problems.append(("log-rule", f"event {position} ({kind}): {broken}"))
            if kind != "ServerChanged":
                list_version += 1
            codes = [s["code"] for s in live.values()]
            if len(codes) != len(set(codes)):
                twice = sorted({c for c in codes if codes.count(c) > 1})
                timeline.problems.append(("duplicate-code", f"event {position}: two live servers with code {twice}"))
            timeline._record(position, list_version, order, live)
        return timeline

    @staticmethod
    def _apply(node: Json, live: dict[str, Json], order: list[str]) -> str | None:
        stream, kind, version = node["streamId"], node["type"], int(node["streamVersion"])
        if kind == "ServerAdded":
            if stream in live:
                return "added a server that is live"
            live[stream] = {**settings_of(node["server"]), "version": version}
            order.append(stream)
        elif kind == "ServerChanged":
            if stream not in live:
                return "changed a server that is not live"
            server = live[stream]
            for change in node["changes"]:
                *parents, leaf = change["field"].split(".")
                holder = server
                for part in parents:
                    holder = holder[part]
                if holder.get(leaf) != change["before"]:
                    return f"{change['field']} was {holder.get(leaf)!r}, the event says {change['before']!r}"
                holder[leaf] = change["after"]
            server["version"] = version
        elif kind == "ServersReordered":
            if list(node["before"]) != order or sorted(node["after"]) != sorted(order):
                return "reorder does not match the list"
            order[:] = node["after"]
        elif kind == "ServerDeleted":
            if stream not in live:
                return "deleted a server that is not live"
            del live[stream]
            order.remove(stream)
        elif kind == "AllServersDeleted":
            if list(node["deletedIds"]) != order:
                return "deletedIds are not the live list"
            live.clear()
            order.clear()
        else:
            return f"unknown event type {kind}"
        return None

    def _record(self, position: int, list_version: int, order: list[str], live: dict[str, Json]) -> None:
        key: ListKey = (list_version, tuple((i, int(live[i]["version"])) for i in order))
        for server_id, version in key[1]:
            self.settings.setdefault((server_id, version), settings_of(live[server_id]))
        self.positions.append(position)
        self.keys.append(key)
        self.by_key.setdefault(key, position)

    @property
    def last(self) -> int:
        return self.positions[-1]

    def index(self, position: int) -> int:
        """The index of the newest event at or before `position`."""
        return bisect.bisect_right(self.positions, position) - 1

    def key_at(self, position: int) -> ListKey:
        return self.keys[self.index(position)]

    def listed(self, position: int) -> Json:
        """The list just after `position`, as mailServers shows it (without timestamps)."""
        version, servers = self.key_at(position)
        items = [
            {"id": i, "position": n, "version": v, **self.settings[(i, v)]} for n, (i, v) in enumerate(servers, start=1)
        ]
        return {"version": version, "totalCount": len(items), "items": items}

    def choices(self, position: int) -> tuple[tuple[str, str, str], ...]:
        _, servers = self.key_at(position)
        return tuple((i, self.settings[(i, v)]["code"], self.settings[(i, v)]["name"]) for i, v in servers)

    def locate(self, listed: Json) -> int | None:
        """The position whose list this response shows, or None when no position had it."""
        position = self.by_key.get(list_key(listed))
        if position is None:
            return None
        if strip(listed) != self.listed(position):
            return None
        return position

    def position_at_time(self, at: datetime) -> int:
        """The newest position whose event occurred at or before `at` (0: none)."""
        index = bisect.bisect_right(self.times, (at, float("inf"))) - 1
        return self.times[index][1] if index >= 0 else 0

    def steady_version(self, server_id: str, since: int) -> int | None:
        """The server's version if it was live and unchanged from `since` to the end of the log."""
        _, servers = self.key_at(since)
        version = dict(servers).get(server_id)
        if version is None:
            return None
        own = self.stream_events.get(server_id, [])
        if own and own[-1] > since:
            return None
        # Deleting all is the one event outside the server's own stream that removes it.
        if self.deletions_of_all and self.deletions_of_all[-1] > since:
            return None
        return version

    def server_after(self, server_id: str, version: int) -> Json | None:
        return self.settings.get((server_id, version))


def strip(listed: Json) -> Json:
    """A MailServerList response without the fields the fold does not keep."""
    keep = ("id", "position", "version", *SETTINGS)
    items = [{k: s.get(k) for k in keep} for s in listed["items"]]
    return {"version": listed["version"], "totalCount": listed["totalCount"], "items": items}
