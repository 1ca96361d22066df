"""SharedRead: callers that arrive together share one read, and no caller gets
the answer of a read that began before it asked."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from api.shared_read import SharedRead


async def until(check: Callable[[], bool]) -> None:
    for _ in range(100):
        if check():
            return
        await asyncio.sleep(0)
    raise AssertionError("never happened")


class Log:
    """A log end that moves on while a read is under way, when told to."""

    def __init__(self) -> None:
        self.end = 0
        self.reads = 0
        self.release = asyncio.Event()

    async def read(self) -> int:
        self.reads += 1
        seen = self.end
        await self.release.wait()
        self.release.clear()
        return seen


async def test_callers_that_arrive_together_share_one_read():
    log = Log()
    shared = SharedRead(log.read)
    callers = [asyncio.ensure_future(shared()) for _ in range(50)]
    await until(lambda: log.reads == 1)
    log.release.set()
    assert await asyncio.gather(*callers) == [0] * 50
    assert log.reads == 1


async def test_a_caller_arriving_during_a_read_gets_the_next_read():
    log = Log()
    shared = SharedRead(log.read)
    early = asyncio.ensure_future(shared())
    await until(lambda: log.reads == 1)  # the first read has begun and seen end 0
    log.end = 7  # something is committed; then more callers ask
    late = [asyncio.ensure_future(shared()) for _ in range(3)]
    await asyncio.sleep(0)
    log.release.set()
    assert await early == 0
    await until(lambda: log.reads == 2)
    log.release.set()
    assert await asyncio.gather(*late) == [7, 7, 7]
    assert log.reads == 2


async def test_a_failed_read_fails_its_callers_and_the_next_call_reads_again():
    attempts = []

    async def read() -> int:
        attempts.append(1)
        if len(attempts) == 1:
            raise ConnectionError("database away")
        return 5

    shared = SharedRead(read)
    failed = await asyncio.gather(shared(), shared(), return_exceptions=True)
    assert all(isinstance(outcome, ConnectionError) for outcome in failed)
    assert await shared() == 5
