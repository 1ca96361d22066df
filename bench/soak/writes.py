"""The checker's rules about mutations: what was acknowledged, rejected or cut off, against the log."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from bench.soak.history import History, Json
from bench.soak.model import Timeline, canonical, settings_of
from bench.soak.reads import Floor
from bench.soak.report import Report

EVENT_TYPES = {
    "addMailServer": {"ServerAdded"},
    "changeMailServer": {"ServerChanged"},
    "reorderMailServers": {"ServersReordered"},
    "deleteMailServer": {"ServerDeleted"},
    "deleteAllMailServers": {"AllServersDeleted"},
    "restoreMailServers": {"ServerAdded", "ServerChanged", "ServersReordered", "ServerDeleted", "AllServersDeleted"},
}


def events_by_request(history: History, mutations: dict[str, Json], report: Report) -> dict[str, list[Json]]:
    caused: dict[str, list[Json]] = defaultdict(list)
    for node in history.log:
        rid = node.get("correlationId")
        request = mutations.get(rid or "")
        if request is None:
            report.add("phantom", f"event {node['position']} ({node['type']}) carries unknown request id {rid!r}")
            continue
        if node["type"] not in EVENT_TYPES[request["op"]]:
            report.add("phantom", f"event {node['position']} is a {node['type']}, but {rid} was {request['op']}")
        elif (unlike := _unlike_its_request(node, request)) is not None:
            report.add("phantom", f"event {node['position']} ({node['type']}) is not what {rid} asked: {unlike}")
        caused[rid or ""].append(node)
    index = {int(n["position"]): i for i, n in enumerate(history.log)}
    for rid, nodes in caused.items():
        places = [index[int(n["position"])] for n in nodes]
        positions = [int(n["position"]) for n in nodes]
        if places != list(range(places[0], places[0] + len(places))):
            report.add("half-applied", f"the events of {rid} are not contiguous in the log: {positions}")
    return caused


def _unlike_its_request(node: Json, request: Json) -> str | None:
    """How an event differs from what its request asked for, or None."""
    input = request.get("input") or {}
    match request["op"]:
        case "addMailServer":
            added = node["server"]
            for path in ("code", "name", "outgoing.host", "outgoing.port", "incoming.protocol", "incoming.host"):
                if _at(input, path) is not None and _at(added, path) != _at(input, path):
                    return f"{path} is {_at(added, path)!r}, the input {_at(input, path)!r}"
        case "changeMailServer" | "deleteMailServer":
            if node["streamId"] != input.get("id"):
                return f"stream {node['streamId']}, the input {input.get('id')}"
            for change in node.get("changes") or []:
                if _at(input, change["field"]) != change["after"]:
                    return f"{change['field']} became {change['after']!r}, the input {_at(input, change['field'])!r}"
        case "reorderMailServers":
            if node["after"] != input.get("ids"):
                return "the order is not the one asked for"
    return None


def _at(value: Any, path: str) -> Any:
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _group(request: Json) -> str:
    return f"key:{request['idem']}" if request.get("idem") else f"rid:{request['rid']}"


def check_mutations(
    timeline: Timeline,
    mutations: dict[str, Json],
    caused: dict[str, list[Json]],
    report: Report,
    seen: list[tuple[float, int]],
) -> None:
    groups: dict[str, list[Json]] = defaultdict(list)
    for request in mutations.values():
        groups[_group(request)].append(request)
    for request in mutations.values():
        outcome = request["outcome"]
        report.counts["attempted"] += 1
        report.counts["acknowledged" if outcome == "ok" else outcome] += 1
        if outcome == "cut" and request.get("detail") == "TimeoutError":
            report.counts["abandoned"] += 1
        if outcome == "cut" and "SERVICE_UNAVAILABLE" in (request.get("codes") or []):
            report.counts["unavailable"] += 1
        mine = caused.get(request["rid"], [])
        if outcome in ("rejected", "truncated") and mine:
            report.add(
                "half-applied",
                f"{request['op']} {request['rid']} was {outcome} but appended {[n['position'] for n in mine]}",
            )
        if request.get("bad") and outcome == "ok":
            report.add("wrong-answer", f"bad input to {request['op']} {request['rid']} was acknowledged")
        if request["op"] == "restoreMailServers" and mine:
            _check_restore_complete(timeline, request, mine, report)
        if outcome != "ok" or request.get("bad"):
            continue
        # Its own events, or those of an earlier attempt with its key (a retry answers with those);
        # never those of an attempt sent after it was answered.
        earlier = [r for r in groups[_group(request)] if r["sent"] <= request["received"]]
        together = [n for r in earlier for n in caused.get(r["rid"], [])]
        position = _check_acknowledged(timeline, request, together, report)
        if position is not None:
            seen.append((float(request["received"]), position))


def _check_restore_complete(timeline: Timeline, request: Json, mine: list[Json], report: Report) -> None:
    target = request["input"].get("asOf")
    if target is None or int(target) not in timeline.events:
        return
    wanted = [(s["id"], settings_of(s)) for s in timeline.listed(int(target))["items"]]
    after = timeline.listed(int(mine[-1]["position"]))
    got = [(s["id"], settings_of(s)) for s in after["items"]]
    if wanted != got:
        report.add("half-applied", f"restore {request['rid']} to {target} left the list unlike its target")


def _check_acknowledged(timeline: Timeline, request: Json, together: list[Json], report: Report) -> int | None:
    """Whether what the client was told is in the log; the position it proves visible."""
    op, rid, payload = request["op"], request["rid"], request.get("payload") or {}
    newest = max((int(n["position"]) for n in together), default=None)
    if op in ("addMailServer", "changeMailServer"):
        server = payload.get("server") or {}
        key = (server.get("id", ""), int(server.get("version", 0)))
        if op == "addMailServer" and not any(n["type"] == "ServerAdded" for n in together):
            report.add("lost", f"acknowledged add {rid} of {key[0]} has no ServerAdded in the log")
            return None
        stored = timeline.server_after(*key)
        if stored is None:
            report.add("lost", f"acknowledged {op} {rid}: server {key} is in no state of the log")
            return None
        if stored != settings_of(server):
            report.add("wrong-answer", f"{op} {rid} answered {settings_of(server)}, the log has {stored}")
        expected = request["input"].get("expectedVersion")
        if op == "changeMailServer" and expected is not None and together:
            won = [int(n["streamVersion"]) for n in together if n["streamId"] == key[0]]
            if won and won[-1] != int(expected) + 1:
                report.add("two-winners", f"change {rid} expected version {expected} but appended version {won}")
        if newest is not None:
            return newest
        return _position_of(timeline, *key)
    if op == "deleteMailServer":
        deleted = payload.get("deletedId")
        if not any(n["type"] == "ServerDeleted" and n["streamId"] == deleted for n in together):
            report.add("lost", f"acknowledged delete {rid} of {deleted} has no ServerDeleted in the log")
        return newest
    if op == "deleteAllMailServers":
        count = int(payload.get("deletedCount") or 0)
        appended = [n for n in together if n["type"] == "AllServersDeleted"]
        if count and not appended:
            report.add("lost", f"acknowledged delete-all {rid} of {count} servers is not in the log")
        elif appended and len(appended[-1]["deletedIds"]) != count:
            report.add("wrong-answer", f"delete-all {rid} said {count}, the log deleted {appended[-1]['deletedIds']}")
        return newest
    listed = payload.get("list")
    if listed is None:
        return newest
    located = timeline.locate(listed)
    if located is None:
        kind = "lost" if newest is None and op == "reorderMailServers" else "wrong-answer"
        report.add(kind, f"{op} {rid} answered a list no position of the log had (version {listed['version']})")
        return newest
    if newest is not None and located != newest:
        report.add("wrong-answer", f"{op} {rid} answered the list at {located}, its events end at {newest}")
    return newest if newest is not None else located


def _position_of(timeline: Timeline, server_id: str, version: int) -> int | None:
    return timeline.stream_positions.get((server_id, version))


def check_idempotency(mutations: dict[str, Json], caused: dict[str, list[Json]], report: Report) -> None:
    groups: dict[str, list[Json]] = defaultdict(list)
    for request in mutations.values():
        if request.get("idem"):
            groups[request["idem"]].append(request)
    for key, requests in groups.items():
        appended = [r["rid"] for r in requests if caused.get(r["rid"])]
        if len(appended) > 1:
            report.add("idempotency", f"key {key}: {len(appended)} requests appended events ({appended})")
        first = min(requests, key=lambda r: r["sent"])
        same = [r for r in requests if canonical(r["input"]) == canonical(first["input"])]
        other = [r for r in requests if r not in same]
        answers = {canonical(r["payload"]) for r in same if r["outcome"] == "ok"}
        if len(answers) > 1:
            report.add("idempotency", f"key {key}: retries were answered differently ({len(answers)} answers)")
        for reuse in other:
            if reuse["outcome"] == "ok" and answers:
                report.add("idempotency", f"key {key}: reused with other input, {reuse['rid']} was acknowledged")


def check_races(mutations: dict[str, Json], caused: dict[str, list[Json]], report: Report) -> None:
    winners: dict[tuple[str, int], set[str]] = defaultdict(set)
    for request in mutations.values():
        expected = request["input"].get("expectedVersion") if isinstance(request["input"], dict) else None
        if request["op"] != "changeMailServer" or expected is None or request["outcome"] != "ok":
            continue
        server = (request.get("payload") or {}).get("server") or {}
        if int(server.get("version", 0)) == int(expected) + 1:
            winners[(request["input"]["id"], int(expected))].add(_group(request))
    for (server_id, expected), groups in winners.items():
        if len(groups) > 1:
            report.add("two-winners", f"{len(groups)} changes of {server_id} at version {expected} all won")


def check_rejections(timeline: Timeline, mutations: dict[str, Json], floor: Floor, report: Report) -> None:
    """A conflict or a missing server that no state from the request's start to the log's end had."""
    for request in mutations.values():
        if request["outcome"] != "rejected" or request.get("bad"):
            continue
        input, codes = request.get("input") or {}, set(request.get("codes") or [])
        least = floor.at(float(request["sent"]))
        where = f"{request['op']} {request['rid']} rejected with {sorted(codes)}"
        if request["op"] in ("changeMailServer", "deleteMailServer"):
            steady = timeline.steady_version(str(input.get("id")), least)
            expected = input.get("expectedVersion")
            if steady is not None and "NOT_FOUND" in codes:
                report.add("wrong-answer", f"{where}, but the server was live at version {steady} from {least} on")
            if steady is not None and expected == steady and "VERSION_CONFLICT" in codes:
                report.add("wrong-answer", f"{where}, but the server stayed at version {expected} from {least} on")
        expected_list = input.get("expectedListVersion")
        if expected_list is not None and "VERSION_CONFLICT" in codes:
            # List versions only grow: the same at both ends means the same all along.
            if timeline.key_at(least)[0] == timeline.key_at(timeline.last)[0] == int(expected_list):
                report.add("wrong-answer", f"{where}, but the list stayed at version {expected_list} from {least} on")
