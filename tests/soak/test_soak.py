"""The soak run at CI size: two instances on a private PostgreSQL cluster,
about two minutes of writers, readers and subscribers under the fault
schedule of a fixed seed, and the checker finds nothing."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from bench.soak.run import Options, soak
from tests.e2e.private_pg import announce, unavailable

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

SEED = 20261130
LOAD_SECONDS = 100.0


async def test_a_two_minute_soak_under_faults_breaks_no_promise(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    reason = unavailable()
    if reason:
        pytest.skip(f"no private PostgreSQL cluster: {reason}")
    started = time.monotonic()
    report, workdir = await soak(Options(duration=LOAD_SECONDS, seed=SEED, workdir=tmp_path / "soak"))
    announce(request, f"soak (seed {SEED}, {time.monotonic() - started:.0f}s):\n{report.table()}")
    assert report.counts["acknowledged"] > 100, "too little load to say anything"
    assert sum(report.faults.values()) >= 5, report.faults
    assert report.violations == [], f"seed {SEED}; history in {workdir}:\n" + "\n".join(
        map(str, report.violations[:30])
    )
