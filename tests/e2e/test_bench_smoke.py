"""The benchmark suite runs end to end at a small size (a smoke test: no timing assertions)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.run import main

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


def test_the_benchmark_suite_runs_every_measure_at_a_small_size(tmp_path: Path):
    results = tmp_path / "bench.json"

    assert main(["--small", "--events", "5000", "--duration", "0.5", "--json", str(results)]) == 0

    rows = json.loads(results.read_text())["rows"]
    measured = {row["name"] for row in rows if row["figure"] and row["figure"] != "skipped"}
    # Every measure of the table produced a figure (the library comparison
    # needs the optional `bench` extra and may be skipped).
    assert {
        "rebuild",
        "append",
        "mailServers",
        "choices",
        "events",
        "asof",
        "latest",
        "mutations",
        "subscriptions",
        "subscriptions10k",
        "rss",
    } <= measured, rows
