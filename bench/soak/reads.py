"""The checker's rules about what clients saw: reads and subscriptions, against the log and each other."""

from __future__ import annotations

import bisect
from collections import defaultdict
from datetime import datetime

from bench.soak.history import History, Json
from bench.soak.model import Timeline, canonical, strip
from bench.soak.report import Report


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


def check_event_subscribers(
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


def locate_reads(timeline: Timeline, reads: list[Json], seen: list[tuple[float, int]], report: Report) -> None:
    for read in reads:
        if read["op"] == "mailServers":
            read["_at"] = timeline.locate(read["result"])
            if read["_at"] is not None:
                seen.append((float(read["received"]), read["_at"]))


def check_reads(timeline: Timeline, reads: list[Json], floor: Floor, report: Report) -> None:
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


def check_choice_subscribers(history: History, timeline: Timeline, floor: Floor, report: Report) -> None:
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
