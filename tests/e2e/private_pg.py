"""A private, throwaway PostgreSQL cluster that a test may crash at will.

The machine's shared cluster serves other test runs, so faults are injected
only into a cluster of our own: initdb in a temporary folder owned by the
`postgres` OS user (initdb and postgres refuse to run as root), on a free port,
with its socket in that folder."""

from __future__ import annotations

import asyncio
import atexit
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import pytest

from tests.support import free_port

START_WITHIN = 60.0
"""Seconds a `mailreg serve` may take to come up: a loaded 2-core CI machine imports slowly."""

BIN_DIRS = [Path(p) for p in os.environ.get("MAILREG_PG_BIN", "").split(os.pathsep) if p] + sorted(
    Path("/usr/lib/postgresql").glob("*/bin"), reverse=True
)


def find_binaries() -> Path | None:
    """The folder holding initdb and pg_ctl, newest major version first."""
    for folder in BIN_DIRS:
        if (folder / "initdb").is_file() and (folder / "pg_ctl").is_file():
            return folder
    found = shutil.which("initdb")
    return Path(found).parent if found and shutil.which("pg_ctl") else None


def unavailable() -> str | None:
    """Why a private cluster cannot be made here, or None when it can."""
    if find_binaries() is None:
        return "no PostgreSQL server binaries (initdb, pg_ctl)"
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        return "running as root without runuser"
    return None


@dataclass
class PrivateCluster:
    """One initdb'd cluster; stop() is a crash (pg_ctl stop -m immediate)."""

    port: int = field(default_factory=free_port)
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="mailreg-pg-")))
    bin_dir: Path = field(default_factory=lambda: find_binaries() or Path("/nonexistent"))
    crashes: int = 0

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def log_file(self) -> Path:
        return self.root / "postgres.log"

    def _run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        command = [str(self.bin_dir / args[0]), *args[1:]]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=self.root)
        if result.returncode != 0:
            raise RuntimeError(
                f"{' '.join(args[:2])} failed ({result.returncode}):\n{result.stdout}{result.stderr}\n{self.log_tail()}"
            )
        return result

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def init(self) -> PrivateCluster:
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        self.root.chmod(0o700)
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "-A",
            "trust",
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-instructions",
            "--no-sync",
        )
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write(
                f"\nport = {self.port}\nlisten_addresses = '127.0.0.1'\n"
                f"unix_socket_directories = '{self.root}'\nmax_connections = 200\n"
                "shared_buffers = 32MB\nlogging_collector = off\n"
            )
        return self

    def start(self) -> None:
        """Start (or restart after a crash) and wait until it accepts connections."""
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log_file), "-w", "-t", "60", "start")

    def stop(self) -> None:
        """A crash: no checkpoint, no goodbye to clients; the next start recovers from WAL."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        self.crashes += 1

    def running(self) -> bool:
        command = [str(self.bin_dir / "pg_ctl"), "-D", str(self.data), "status"]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(command, capture_output=True, timeout=30, cwd=self.root).returncode == 0

    def destroy(self) -> None:
        try:
            if self.data.exists() and self.running():
                self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    @property
    def admin_dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    async def create_database(self, name: str | None = None) -> str:
        """A new empty database; returns its postgresql+asyncpg URL."""
        name = name or f"mailreg_{uuid.uuid4().hex[:12]}"
        deadline = time.monotonic() + 20
        while True:
            try:
                conn = await asyncpg.connect(self.admin_dsn, timeout=5)
                break
            except (OSError, asyncpg.PostgresError):
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.2)
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{name}"


_shared: PrivateCluster | None = None


def running_cluster() -> PrivateCluster:
    """The test session's private cluster, made on first use and running
    (restarted if a test left it crashed); destroyed when the session ends."""
    global _shared
    if _shared is None:
        reason = unavailable()
        if reason is not None:
            pytest.skip(f"no private PostgreSQL cluster: {reason}")
        cluster = PrivateCluster().init()
        atexit.register(cluster.destroy)
        _shared = cluster
    if not _shared.running():
        _shared.start()
    return _shared


def announce(request: pytest.FixtureRequest, line: str) -> None:
    """Print a summary line on the terminal even while output is captured."""
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if capture is None or reporter is None:
        print(line)
        return
    with capture.global_and_fixture_disabled():
        reporter.write_line(f"\n{line}")
