"""The fault schedule depends on the seed alone."""

from __future__ import annotations

from bench.soak.faults import KINDS, schedule


def test_one_seed_always_gives_the_same_schedule() -> None:
    assert schedule(42, 900, 2) == schedule(42, 900, 2)


def test_another_seed_gives_another_schedule() -> None:
    assert schedule(42, 900, 2) != schedule(43, 900, 2)


def test_a_full_run_strikes_every_kind_of_fault_within_its_duration() -> None:
    faults = schedule(42, 900, 2)
    assert {f.kind for f in faults} == set(KINDS)
    assert all(0 < f.at < 900 for f in faults)
    assert [f.at for f in faults] == sorted(f.at for f in faults)
