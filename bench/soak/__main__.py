"""`python -m bench.soak`: one randomized soak run under faults, checked."""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
from pathlib import Path

from bench.soak.run import Options, soak


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Randomized soak run under faults, checked against its history.")
    parser.add_argument("--duration", type=float, default=120.0, help="seconds of load (the full run: 900)")
    parser.add_argument("--seed", type=int, default=None, help="replays the same fault schedule")
    parser.add_argument("--instances", type=int, default=2)
    parser.add_argument("--writers", type=int, default=4)
    parser.add_argument("--readers", type=int, default=2)
    parser.add_argument("--workdir", type=Path, default=None, help="where the history is kept (default: a temp folder)")
    args = parser.parse_args(argv)
    seed = args.seed if args.seed is not None else random.randrange(1, 2**31)
    if args.instances < 2:
        parser.error("at least 2 instances")
    started = time.monotonic()
    options = Options(args.duration, seed, args.instances, args.writers, args.readers, args.workdir)
    report, workdir = asyncio.run(soak(options))
    print(report.table())
    for violation in report.violations[:50]:
        print(violation)
    print(f"seed {seed}; history in {workdir}; {time.monotonic() - started:.0f}s in all")
    print(f"check it again with: python -m bench.soak.check {workdir}")
    if report.violations:
        print(f"FAILED with seed {seed}: replay with python -m bench.soak --seed {seed}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
