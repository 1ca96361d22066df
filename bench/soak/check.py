"""The checker: reads a soak run's history and final log and reports every
broken promise. Usable on saved runs: `python -m bench.soak.check RUN_DIR`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bench.soak.history import History
from bench.soak.model import Timeline, strip
from bench.soak.reads import Floor, check_choice_subscribers, check_event_subscribers, check_reads, locate_reads
from bench.soak.report import KINDS, Report, Violation
from bench.soak.writes import check_idempotency, check_mutations, check_races, check_rejections, events_by_request

__all__ = ["KINDS", "Report", "Violation", "check", "main"]


def check(history: History) -> Report:
    """Every violation in a recorded run."""
    report = Report(seed=history.final.get("seed"))
    timeline = Timeline.fold(history.log)
    report.counts["events"] = len(history.log)
    for kind, problem in timeline.problems:
        report.add(kind, problem)
    mutations = {m["rid"]: m for m in history.of("mutation")}
    caused = events_by_request(history, mutations, report)
    seen: list[tuple[float, int]] = []
    check_mutations(timeline, mutations, caused, report, seen)
    check_idempotency(mutations, caused, report)
    check_races(mutations, caused, report)
    check_event_subscribers(history, timeline, report, seen)
    reads = [r for r in history.of("read") if r.get("outcome") == "ok"]
    locate_reads(timeline, reads, seen, report)
    floor = Floor(seen)
    check_reads(timeline, reads, floor, report)
    check_rejections(timeline, mutations, floor, report)
    check_choice_subscribers(history, timeline, floor, report)
    _check_final(history, timeline, report)
    report.load = [float(x) for x in history.final.get("load_samples") or []]
    for fault in history.of("fault"):
        report.faults[fault["kind"]] += 1
        if fault["kind"] == "sigterm":
            report.sigterm_exits.append(fault.get("exit"))
        if fault.get("recovered") is not None:
            report.recoveries[fault["kind"]].append(float(fault["recovered"]) - float(fault["lifted"]))
    return report


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
