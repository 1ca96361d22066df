"""The long commands tell how far they are: a bar on a terminal, periodic lines in a
log, and a closing summary with the count and the rate, on stderr (stdout is untouched)."""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bench.loggen import generate
from events.database import create_engine
from events.operations.rebuild import rebuild
from tests.e2e.conftest import migrated
from tests.support import ROOT, SECRET, create_pg_database, drop_pg_database

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

EVENTS = 30_000
SUMMARY = r"mailreg: {command}: ([\d,]+) events in [\d.]+s \(([\d,]+) events/s\)"


@pytest.fixture(scope="module")
async def logged() -> AsyncIterator[str]:
    """A PostgreSQL database holding a generated log of EVENTS events and its read model."""
    url = await create_pg_database()
    try:
        await migrated(url)
        await generate(url.replace("postgresql+asyncpg://", "postgresql://"), events=EVENTS, servers=20)
        engine = create_engine(url)
        try:
            await rebuild(engine)
        finally:
            await engine.dispose()
        yield url
    finally:
        await drop_pg_database(url)


def env(url: str) -> dict[str, str]:
    return {**os.environ, "MAILREG_DATABASE_URL": url, "MAILREG_JWT_SECRET": SECRET, "LANG": "C.UTF-8"}


def mailreg(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "api", *args], env=env(url), cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    return done


def progress_lines(stderr: str, command: str, stage: str) -> list[int]:
    """The counts of the periodic lines of one stage, in order."""
    pattern = rf"mailreg: {command}: {stage} ([\d,]+)/([\d,]+) events \((\d+)%\), [\d,]+ events/s"
    return [int(match[1].replace(",", "")) for match in re.finditer(pattern, stderr)]


def summary(stderr: str, command: str) -> int:
    match = re.search(SUMMARY.format(command=command), stderr)
    assert match is not None, stderr
    assert int(match[2].replace(",", "")) > 0
    return int(match[1].replace(",", ""))


def test_rebuild_and_check_print_periodic_lines_and_a_summary_when_not_on_a_terminal(logged: str):
    rebuilt = mailreg(logged, "rebuild-projections")
    checked = mailreg(logged, "check")

    counts = progress_lines(rebuilt.stderr, "rebuild-projections", "replay")
    assert len(counts) >= 3 and counts == sorted(counts) and counts[-1] == EVENTS, rebuilt.stderr
    assert summary(rebuilt.stderr, "rebuild-projections") == EVENTS
    assert f"replayed {EVENTS} events" in rebuilt.stdout
    counts = progress_lines(checked.stderr, "check", "verify")
    assert len(counts) >= 5 and counts[-1] == EVENTS, checked.stderr
    assert summary(checked.stderr, "check") == EVENTS
    assert checked.stdout.startswith("consistent:")


async def test_export_and_import_report_their_progress_and_keep_stdout_for_data(logged: str, tmp_path: Path):
    exported = mailreg(logged, "export")
    assert exported.stdout.count("\n") == EVENTS
    assert "mailreg" not in exported.stdout
    assert progress_lines(exported.stderr, "export", "write")[-1] == EVENTS
    assert summary(exported.stderr, "export") == EVENTS

    (tmp_path / "log.jsonl").write_text(exported.stdout)
    target = await create_pg_database()
    try:
        await migrated(target)
        imported = mailreg(target, "import", "--input", str(tmp_path / "log.jsonl"))
    finally:
        await drop_pg_database(target)
    assert progress_lines(imported.stderr, "import", "check")[-1] == EVENTS, imported.stderr
    assert progress_lines(imported.stderr, "import", "write")[-1] == EVENTS, imported.stderr
    assert summary(imported.stderr, "import") == EVENTS


def test_on_a_terminal_the_check_shows_a_progress_bar(logged: str):
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "api", "check"],
        env={**env(logged), "TERM": "xterm-256color", "COLUMNS": "120"},
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=follower,
    )
    os.close(follower)
    seen = b""
    while True:
        ready, _, _ = select.select([leader], [], [], 120)
        if not ready:
            break
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        seen += chunk
    os.close(leader)
    screen = seen.decode(errors="replace")
    assert process.wait(60) == 0, screen

    assert "check: verify" in screen and "━" in screen, screen
    assert f"{EVENTS:,}" in screen or f"{EVENTS}/{EVENTS}" in screen, screen
    assert re.search(SUMMARY.format(command="check"), screen), screen
