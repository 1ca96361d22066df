"""A server exactly as it normally runs (`mailreg serve`, or bench.plain), that
profiles itself with pyinstrument between SIGUSR1 and SIGUSR2.

    python -m bench.profiled OUT_DIR mailreg|plain

Wall-clock sampling (1 ms, from a timing thread, which keeps the overhead
low): time the event loop spends waiting shows up as "event loop wait" in the
summary. On SIGUSR2 the profile is written to
OUT_DIR/<name>-summary.txt (flat: by package, by stage, top functions),
<name>.txt (the call tree), <name>-all.txt (unabridged) and <name>.html,
where <name> is the content of OUT_DIR/.name (written by the bench before it
sends SIGUSR1), so one process can be profiled over several measures."""

from __future__ import annotations

import signal
import sys
from pathlib import Path
from types import FrameType
from typing import Any


def main() -> None:
    from pyinstrument import Profiler

    from bench.profsummary import summarize

    out_dir = Path(sys.argv[1])
    kind = sys.argv[2]
    out_dir.mkdir(parents=True, exist_ok=True)
    state: dict[str, Any] = {"profiler": None}

    def start(_signum: int, _frame: FrameType | None) -> None:
        if state["profiler"] is None:
            profiler = Profiler(interval=0.001, async_mode="disabled", use_timing_thread=True)
            profiler.start()
            state["profiler"] = profiler

    def stop(_signum: int, _frame: FrameType | None) -> None:
        profiler = state["profiler"]
        if profiler is None:
            return
        state["profiler"] = None
        profiler.stop()
        name_file = out_dir / ".name"
        name = name_file.read_text().strip() if name_file.exists() else "profile"
        (out_dir / f"{name}.html").write_text(profiler.output_html())
        if profiler.last_session is not None:
            profiler.last_session.save(str(out_dir / f"{name}.pyisession"))
            (out_dir / f"{name}-summary.txt").write_text(summarize(profiler.last_session, cpu=False))
        (out_dir / f"{name}-all.txt").write_text(profiler.output_text(unicode=True, color=False, show_all=True))
        text = profiler.output_text(unicode=True, color=False, show_all=False)
        partial = out_dir / f"{name}.txt.partial"
        partial.write_text(text)
        partial.rename(out_dir / f"{name}.txt")

    signal.signal(signal.SIGUSR1, start)
    signal.signal(signal.SIGUSR2, stop)
    if kind == "mailreg":
        from api.cli import serve

        serve()
    elif kind == "plain":
        from bench.plain import main as plain

        plain()
    else:
        raise SystemExit(f"unknown server kind {kind!r}")


if __name__ == "__main__":
    main()
