"""What the benchmarks stand on: a database of their own, server processes,
/proc readings and small statistics helpers. Everything started here is
stopped or dropped by the caller's exit stack, also when a measure fails."""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import resource
import secrets
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from api.auth import issue

ADMIN_DSN = (
    os.environ.get("MAILREG_BENCH_PG")
    or os.environ.get("MAILREG_TEST_PG")
    or "postgresql://postgres@127.0.0.1:5432/postgres"
)
ROOT = Path(__file__).resolve().parent.parent
CLK_TCK = os.sysconf("SC_CLK_TCK")


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- database


@dataclass
class Database:
    """A PostgreSQL database of the bench's own, dropped by `drop`."""

    name: str
    admin_dsn: str = ADMIN_DSN

    @property
    def dsn(self) -> str:
        return f"{self.admin_dsn.rsplit('/', 1)[0]}/{self.name}"

    @property
    def url(self) -> str:
        """The SQLAlchemy URL mailreg wants."""
        return self.dsn.replace("postgresql://", "postgresql+asyncpg://", 1)

    @classmethod
    async def create(cls, label: str) -> Database:
        database = cls(f"mailreg_bench_{label}_{uuid.uuid4().hex[:8]}")
        conn = await asyncpg.connect(database.admin_dsn)
        try:
            await conn.execute(f'CREATE DATABASE "{database.name}"')
        finally:
            await conn.close()
        return database

    async def drop(self) -> None:
        conn = await asyncpg.connect(self.admin_dsn)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        finally:
            await conn.close()

    async def migrate(self) -> None:
        from events import migrate
        from events.database import create_engine

        engine = create_engine(self.url)
        try:
            await migrate.upgrade(engine)
        finally:
            await engine.dispose()

    async def fetchval(self, query: str, *args: object) -> Any:
        conn = await asyncpg.connect(self.dsn)
        try:
            return await conn.fetchval(query, *args)
        finally:
            await conn.close()

    async def last_position(self) -> int:
        return int(await self.fetchval("SELECT coalesce(max(position), 0) FROM events"))


# --------------------------------------------------------------------------- processes


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def raise_nofile() -> None:
    """Allow many sockets (1,000 websockets need more than a 1,024 default)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else 65536
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


@dataclass
class Secrets:
    secret: str = field(default_factory=lambda: secrets.token_urlsafe(48))

    def admin(self, sub: str = "bench-admin") -> str:
        return issue(self.secret, sub, ["admin"])

    def user(self, sub: str = "bench-user") -> str:
        return issue(self.secret, sub, [])


@dataclass
class Process:
    """A child process whose output goes to a log file (never a pipe that could fill)."""

    name: str
    argv: list[str]
    env: dict[str, str]
    workdir: Path
    popen: subprocess.Popen[bytes] | None = None

    @property
    def log_path(self) -> Path:
        return self.workdir / f"{self.name}.log"

    def launch(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as output:
            self.popen = subprocess.Popen(
                self.argv,
                env=self.env,
                cwd=self.workdir,
                stdout=output,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                preexec_fn=raise_nofile,
            )

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self, timeout: float = 20.0) -> None:
        if self.popen is None or self.popen.poll() is not None:
            return
        self.popen.send_signal(signal.SIGTERM)
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait(5)

    # /proc readings -------------------------------------------------------
    def status_kb(self, key: str) -> int:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
        raise KeyError(key)

    def cpu_seconds(self) -> float:
        """utime + stime of the process so far."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK


@dataclass
class Server(Process):
    """`mailreg serve` (or another ASGI server of the bench) on its own port."""

    port: int = field(default_factory=free_port)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/graphql"

    async def start(self, within: float = 60.0) -> Server:
        self.env = {**self.env, "MAILREG_HOST": "127.0.0.1", "MAILREG_PORT": str(self.port)}
        self.launch()
        deadline = time.monotonic() + within
        async with httpx.AsyncClient(timeout=1.0) as client:
            while time.monotonic() < deadline:
                if not self.alive():
                    assert self.popen is not None
                    raise RuntimeError(f"{self.name} exited early with {self.popen.returncode}: {self.tail()}")
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get(f"{self.url}/healthz")).status_code == 200:
                        return self
                await asyncio.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{self.name} did not become healthy:\n{self.tail()}")


def server_env(database_url: str, secret: str, data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILREG_")}
    return {
        **env,
        "MAILREG_DATABASE_URL": database_url,
        "MAILREG_DATA_DIR": str(data_dir),
        "MAILREG_JWT_SECRET": secret,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")])),
    }


def mailreg_argv(profile: Path | None = None) -> list[str]:
    """`mailreg serve`, or the same under pyinstrument writing `profile`."""
    if profile is None:
        return [sys.executable, "-m", "api", "serve"]
    return [sys.executable, "-m", "bench.profiled", str(profile), "mailreg"]


def plain_argv(profile: Path | None = None) -> list[str]:
    if profile is None:
        return [sys.executable, "-m", "bench.plain"]
    return [sys.executable, "-m", "bench.profiled", str(profile), "plain"]


# --------------------------------------------------------------------------- statistics


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); nan for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def rate(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else math.nan
