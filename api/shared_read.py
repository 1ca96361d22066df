"""One read shared by the callers waiting for it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any


class SharedRead:
    """Callers that arrive while no read is running share the next one; callers
    that arrive during a read share the one after it (never a read that began
    before they asked, so each answer is at least as new as the call)."""

    def __init__(self, read: Callable[[], Coroutine[Any, Any, int]]) -> None:
        self.read = read
        self.waiting: asyncio.Future[int] | None = None
        self.running = False

    async def __call__(self) -> int:
        if self.waiting is None:
            self.waiting = asyncio.get_running_loop().create_future()
            if not self.running:
                asyncio.ensure_future(self._run())
        return await asyncio.shield(self.waiting)

    async def _run(self) -> None:
        self.running = True
        try:
            while self.waiting is not None:
                future, self.waiting = self.waiting, None
                try:
                    future.set_result(await self.read())
                except Exception as error:
                    future.set_exception(error)
        finally:
            self.running = False
