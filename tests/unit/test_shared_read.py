"""The shared checkpoint read: callers share reads, but never one that began before they called."""

from __future__ import annotations

import asyncio

import pytest

from events.application.checkpoint import SharedRead


class Log:
    """A committed position that tests move, and a read of it that waits to be released."""

    def __init__(self) -> None:
        self.position = 0
        self.reads = 0
        self.release = asyncio.Event()

    async def read(self) -> int:
        self.reads += 1
        seen = self.position
        await self.release.wait()
        self.release.clear()
        return seen


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_a_caller_arriving_during_a_read_gets_the_next_one_which_sees_the_newer_commit():
    log = Log()
    shared = SharedRead(log.read)
    early = asyncio.create_task(shared())
    await _settle()
    log.position = 1  # committed (and acknowledged) after the first read began
    late = [asyncio.create_task(shared()) for _ in range(10)]
    await _settle()

    log.release.set()
    assert await early == 0
    await _settle()
    log.release.set()
    assert [await task for task in late] == [1] * 10
    assert log.reads == 2


async def test_a_failed_read_fails_its_callers_only_and_the_next_read_runs_again():
    calls = 0

    async def flaky() -> int:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ConnectionError("database away")
        return 7

    shared = SharedRead(flaky)
    with pytest.raises(ConnectionError):
        await shared()
    assert await shared() == 7


async def test_a_caller_that_gives_up_does_not_cancel_the_read_others_wait_for():
    log = Log()
    shared = SharedRead(log.read)
    first = asyncio.create_task(shared())
    await _settle()
    impatient, patient = asyncio.create_task(shared()), asyncio.create_task(shared())
    await _settle()
    impatient.cancel()
    log.release.set()
    assert await first == 0
    await _settle()
    log.release.set()
    assert await patient == 0
    assert impatient.cancelled()
