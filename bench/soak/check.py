"""The checker: reads a soak run's history and final log and reports every
broken promise. Usable on saved runs: `python -m bench.soak.check RUN_DIR`."""

from __future__ import annotations

import argparse
import bisect
import statistics
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from bench.soak.history import History, Json
from bench.soak.model import Timeline, canonical, settings_of, strip

KINDS = (
    "lost",  # acknowledged but not in the log
    "phantom",  # in the log, but no request could have caused it
    "half-applied",  # a rejected, cut-off or truncated mutation left (part of) itself
    "two-winners",  # two same-version changes both won, or a change won over a version it did not expect
    "duplicate-code",  # two live servers with one code at some position of the log
    "log-rule",  # positions, stream versions, times or an event's own content inconsistent
    "idempotency",  # a retry appended twice or was answered differently
    "subscriber",  # missed, duplicated or reordered events across resumes
    "stale-read",  # older than a write or read already seen (read-your-writes, monotonic reads)
    "wrong-answer",  # a response that matches no state of the log
    "check",  # mailreg check failed, or the read model differs from a rebuild
)

EVENT_TYPES = {
    "addMailServer": {"ServerAdded"},
    "changeMailServer": {"ServerChanged"},
    "reorderMailServers": {"ServersReordered"},
    "deleteMailServer": {"ServerDeleted"},
    "deleteAllMailServers": {"AllServersDeleted"},
    "restoreMailServers": {"ServerAdded", "ServerChanged", "ServersReordered", "ServerDeleted", "AllServersDeleted"},
}


@dataclass
class Violation:
    kind: str
    message: str

    def __str__(self) -> str:
        return f"[{self.kind}] {self.message}"


@dataclass
class Report:
    """What the checker found, and the counts for the table."""

    violations: list[Violation] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)
    faults: Counter[str] = field(default_factory=Counter)
    recoveries: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    load: list[float] = field(default_factory=list)
    sigterm_exits: list[int | None] = field(default_factory=list)
    seed: Any = None

    def add(self, kind: str, message: str) -> None:
        assert kind in KINDS, kind
        self.violations.append(Violation(kind, message))

    def kinds(self) -> set[str]:
        return {v.kind for v in self.violations}

    def table(self) -> str:
        c = self.counts
        rows: list[tuple[str, object]] = [
            ("operations attempted", c["attempted"]),
            ("  acknowledged", c["acknowledged"]),
            ("  rejected", c["rejected"]),
            ("  cut off (unknown outcome)", c["cut"]),
            ("    of which abandoned on purpose", c["abandoned"]),
            ("    of which told 'database unavailable'", c["unavailable"]),
            ("  truncated mid-body", c["truncated"]),
            ("reads checked", c["reads"]),
        ]
        if self.sigterm_exits:
            clean = sum(1 for code in self.sigterm_exits if code == 0)
            rows.append(("SIGTERM exits with status 0", f"{clean} of {len(self.sigterm_exits)}"))
        rows += [(f"faults: {kind}", n) for kind, n in sorted(self.faults.items())]
        everything = [t for times in self.recoveries.values() for t in times]
        for kind, times in sorted(self.recoveries.items()) + [("all faults", everything)]:
            if times:
                rows.append((f"recovery p50 / max (s): {kind}", f"{statistics.median(times):.2f} / {max(times):.2f}"))
        rows += [
            ("events checked", c["events"]),
            ("subscriber deliveries checked", c["deliveries"]),
            ("violations", len(self.violations)),
        ]
        if self.load:
            rows.insert(
                -1,
                (
                    "machine load average (1 min): mean / max",
                    f"{statistics.mean(self.load):.1f} / {max(self.load):.1f}",
                ),
            )
        width = max(len(name) for name, _ in rows)
        lines = [f"{name.ljust(width)}  {value}" for name, value in rows]
        for kind, n in sorted(Counter(v.kind for v in self.violations).items()):
            lines.append(f"{('  ' + kind).ljust(width)}  {n}")
        return "\n".join(lines)


class Floor:
    """The newest log position any client had seen by a given time: a read sent
    later must show at least that much, on any instance."""

    def __init__(self, seen: list[tuple[float, int]]) -> None:
        seen.sort()
        self.times = [t for t, _ in seen]
        self.highest: list[int] = []
        best = 0
        for _, position in seen:
            best = max(best, position)
            self.highest.append(best)

    def at(self, time: float) -> int:
        index = bisect.bisect_left(self.times, time) - 1
        return self.highest[index] if index >= 0 else 0


def check(history: History) -> Report:
    """Every violation in a recorded run."""
    report = Report(seed=history.final.get("seed"))
    timeline = Timeline.fold(history.log)
    report.counts["events"] = len(history.log)
    for kind, problem in timeline.problems:
        report.add(kind, problem)
    mutations = {m["rid"]: m for m in history.of("mutation")}
    caused = _events_by_request(history, mutations, report)
    seen: list[tuple[float, int]] = []
    _check_mutations(timeline, mutations, caused, report, seen)
    _check_idempotency(mutations, caused, report)
    _check_races(mutations, caused, report)
    _check_event_subscribers(history, timeline, report, seen)
    reads = [r for r in history.of("read") if r.get("outcome") == "ok"]
    _locate_reads(timeline, reads, seen, report)
    floor = Floor(seen)
    _check_reads(timeline, reads, floor, report)
    _check_rejections(timeline, mutations, floor, report)
    _check_choice_subscribers(history, timeline, floor, report)
    _check_final(history, timeline, report)
    report.load = [float(x) for x in history.final.get("load_samples") or []]
    for fault in history.of("fault"):
        report.faults[fault["kind"]] += 1
        if fault["kind"] == "sigterm":
            report.sigterm_exits.append(fault.get("exit"))
        if fault.get("recovered") is not None:
            report.recoveries[fault["kind"]].append(float(fault["recovered"]) - float(fault["lifted"]))
    return report


def _events_by_request(history: History, mutations: dict[str, Json], report: Report) -> dict[str, list[Json]]:
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


def _check_mutations(
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


def _check_idempotency(mutations: dict[str, Json], caused: dict[str, list[Json]], report: Report) -> None:
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


def _check_races(mutations: dict[str, Json], caused: dict[str, list[Json]], report: Report) -> None:
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


def _check_event_subscribers(
    history: History, timeline: Timeline, report: Report, seen: list[tuple[float, int]]
) -> None:
    positions = timeline.positions[1:]
    following = {p: positions[i + 1] if i + 1 < len(positions) else None for i, p in enumerate(positions)}
    following[0] = positions[0] if positions else None
    streams: dict[str, list[Json]] = defaultdict(list)
    for record in history.records:
        if record.get("field") == "mailServerEvents" and record["type"] in ("subscribe", "next"):
            streams[record["client"]].append(record)
    final_end = timeline.last
    for client, records in streams.items():
        last: int | None = None
        for record in records:
            if record["type"] == "subscribe":
                after = int(record["after"]) if record.get("after") is not None else None
                if last is not None and after != last:
                    report.add("subscriber", f"{client} resumed after {after}, its last event was {last}")
                last = after if after is not None else last
                continue
            report.counts["deliveries"] += 1
            node = record["data"]
            position = int(node["position"])
            seen.append((float(record["at"]), position))
            if last is not None and position <= last:
                report.add("subscriber", f"{client} got {position} after {last} (duplicate or out of order)")
                continue
            if last is not None and following.get(last) != position:
                report.add("subscriber", f"{client} got {position} after {last}; the log has {following.get(last)}")
            logged = timeline.events.get(position)
            if logged is None or canonical(logged) != canonical(node):
                report.add("subscriber", f"{client} got event {position} unlike the log's")
            last = position
        if last != final_end:
            report.add("subscriber", f"{client} ended at {last}, the log ends at {final_end}: missed events")


def _locate_reads(timeline: Timeline, reads: list[Json], seen: list[tuple[float, int]], report: Report) -> None:
    for read in reads:
        if read["op"] == "mailServers":
            read["_at"] = timeline.locate(read["result"])
            if read["_at"] is not None:
                seen.append((float(read["received"]), read["_at"]))


def _check_reads(timeline: Timeline, reads: list[Json], floor: Floor, report: Report) -> None:
    by_choices: dict[str, list[int]] = defaultdict(list)
    for position in timeline.positions:
        by_choices[canonical(timeline.choices(position))].append(position)
    for read in reads:
        report.counts["reads"] += 1
        op, result, least = read["op"], read["result"], floor.at(float(read["sent"]))
        where = f"{op} by {read['client']} on instance {read.get('instance')} at {read['sent']:.3f}s"
        if op == "mailServers":
            if read["_at"] is None:
                report.add("wrong-answer", f"{where} showed a list no position of the log had")
            elif read["_at"] < least:
                report.add("stale-read", f"{where} showed the list at {read['_at']}, {least} was already seen")
        elif op == "mailServerChoices":
            shown = canonical(tuple((c["id"], c["code"], c["name"]) for c in result))
            candidates = by_choices.get(shown, [])
            if not candidates:
                report.add("wrong-answer", f"{where} showed choices no position of the log had")
            elif candidates[-1] < least:
                report.add("stale-read", f"{where} showed choices older than {least}, already seen")
        elif op == "mailServersAsOf":
            at = read["args"].get("at")
            if at is not None:
                position = timeline.position_at_time(datetime.fromisoformat(at))
            else:
                position = int(read["args"]["position"])
            if strip(result) != timeline.listed(position):
                report.add("wrong-answer", f"{where}: the list as of {position} differs from the log's")
        elif op == "events":
            _check_page(timeline, read, least, where, report)


def _check_page(timeline: Timeline, read: Json, least: int, where: str, report: Report) -> None:
    after, first = int(read["args"].get("after") or 0), int(read["args"]["first"])
    nodes = [edge["node"] for edge in read["result"]["edges"]]
    start = bisect.bisect_right(timeline.positions, after)
    expected = timeline.positions[max(start, 1) : max(start, 1) + len(nodes)]
    got = [int(n["position"]) for n in nodes]
    if got != expected:
        report.add("wrong-answer", f"{where}: page after {after} has {got[:5]}..., the log {expected[:5]}...")
        return
    for node in nodes:
        if canonical(node) != canonical(timeline.events[int(node["position"])]):
            report.add("wrong-answer", f"{where}: event {node['position']} differs from the log's")
    if len(nodes) < first and (got[-1] if got else after) < least:
        report.add("stale-read", f"{where}: the log ended at {got[-1] if got else after}, {least} was already seen")


def _check_rejections(timeline: Timeline, mutations: dict[str, Json], floor: Floor, report: Report) -> None:
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


def _check_choice_subscribers(history: History, timeline: Timeline, floor: Floor, report: Report) -> None:
    by_choices: dict[str, list[int]] = defaultdict(list)
    for position in timeline.positions:
        by_choices[canonical(timeline.choices(position))].append(position)
    streams: dict[str, list[Json]] = defaultdict(list)
    for record in history.records:
        if record.get("field") == "mailServerChoicesChanged" and record["type"] in ("subscribe", "next"):
            streams[record["client"]].append(record)
    final = canonical(timeline.choices(timeline.last))
    for client, records in streams.items():
        least, shown = 0, None
        for record in records:
            if record["type"] == "subscribe":
                least = max(least, floor.at(float(record["at"])))
                continue
            report.counts["deliveries"] += 1
            shown = canonical(tuple((c["id"], c["code"], c["name"]) for c in record["data"]))
            later = [p for p in by_choices.get(shown, []) if p >= least]
            if not later:
                report.add("subscriber", f"{client} was sent choices older than position {least} at {record['at']}")
                continue
            least = later[0]
        if shown != final:
            report.add("subscriber", f"{client} never got the final choices")


def _check_final(history: History, timeline: Timeline, report: Report) -> None:
    final = history.final
    check = final.get("check") or {}
    if check.get("exit") != 0:
        report.add("check", f"mailreg check exited {check.get('exit')}: {str(check.get('output'))[-500:]}")
    before, after = final.get("before_rebuild"), final.get("after_rebuild")
    if before is None or after is None or strip(before) != strip(after):
        report.add("check", "the read model differs from a rebuild of the log")
    expected = timeline.listed(timeline.last)
    for n, listed in enumerate(final.get("final_lists") or []):
        if strip(listed) != expected:
            report.add("lost", f"instance {n}'s final list differs from the fold of the log")
    if not final.get("final_lists"):
        report.add("check", "the run recorded no final list")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Check a soak run's recorded history.")
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--show", type=int, default=30, help="violations to print")
    args = parser.parse_args(argv)
    report = check(History.load(args.run_dir))
    print(report.table())
    for violation in report.violations[: args.show]:
        print(violation)
    if report.violations:
        print(f"FAILED: {len(report.violations)} violations; seed {report.seed}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
