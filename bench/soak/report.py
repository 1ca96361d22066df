"""What the checker found: violations by kind, and the table a run prints."""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

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
