"""Progress of the long commands on stderr: a bar on a terminal, plain periodic lines
otherwise (a log file, a pipe), and a final summary with the count and the rate."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from types import TracebackType
from typing import TextIO

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, ProgressColumn, Task, TextColumn, TimeRemainingColumn
from rich.progress import Progress as Bar
from rich.text import Text

from api.i18n import say, stage

# Without a terminal, a line at every tenth of the total; without a known total, every so often.
STEPS = 10
UNKNOWN_TOTAL_SECONDS = 5.0


class _Rate(ProgressColumn):
    def render(self, task: Task) -> Text:
        return Text(f"{task.speed or 0:,.0f}/s")


class CommandProgress:
    """The progress of one command, in stages (e.g. check, then write), each a callback
    the operation calls with how much it has done."""

    def __init__(self, command: str, unit: str = "events", stream: TextIO | None = None) -> None:
        self.command = command
        self.unit = unit
        self.stream = stream if stream is not None else sys.stderr
        self.started = time.perf_counter()
        self._bar: Bar | None = None
        if self.stream.isatty():
            self._bar = Bar(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn(unit),
                _Rate(),
                TimeRemainingColumn(),
                console=Console(file=self.stream),
            )

    def __enter__(self) -> CommandProgress:
        if self._bar is not None:
            self._bar.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if self._bar is not None:
            self._bar.stop()

    def stage(self, label: str, total: int | None) -> Callable[[int], None]:
        """A callback for one stage that counts towards `total` (None when unknown)."""
        started = time.perf_counter()
        if self._bar is not None:
            bar, task = self._bar, self._bar.add_task(f"{self.command}: {stage(label)}", total=total)
            return lambda done: bar.update(task, completed=done)
        shown = {"step": 0, "at": started}

        def line(done: int) -> None:
            now = time.perf_counter()
            if total:
                step = min(STEPS, done * STEPS // total)
                if step <= shown["step"]:
                    return
                shown["step"] = step
                amount = f"{done:,}/{total:,} {self.unit} ({done * 100 // total}%)"
            else:
                if now - shown["at"] < UNKNOWN_TOTAL_SECONDS:
                    return
                amount = f"{done:,} {self.unit}"
            shown["at"] = now
            rate = done / (now - started) if now > started else 0.0
            self._print(f"mailreg: {self.command}: {label} {amount}, {rate:,.0f} {self.unit}/s")

        return line

    def summary(self, count: int) -> None:
        """The closing line: how many, how long, how fast."""
        seconds = time.perf_counter() - self.started
        rate = count / seconds if seconds > 0 else 0.0
        self._print(f"mailreg: {self.command}: {count:,} {self.unit} in {seconds:.1f}s ({rate:,.0f} {self.unit}/s)")

    def _print(self, text: str) -> None:
        print(say(text), file=self.stream, flush=True)
