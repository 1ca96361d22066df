"""What the soak run stands on: a private PostgreSQL cluster it may crash, and
`mailreg serve` instances on fixed ports that it may kill and restart."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bench.infra import free_port, raise_nofile

READY_WITHIN = 120.0
"""Seconds an instance may take to answer /readyz: a loaded 2-core machine imports slowly."""


@dataclass
class Instance:
    """One `mailreg serve`; restarted on the same port, so clients keep their address."""

    number: int
    database_url: str
    secret: str
    workdir: Path
    port: int = field(default_factory=free_port)
    popen: subprocess.Popen[bytes] | None = None
    up: bool = False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/graphql"

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "MAILREG_DATABASE_URL": self.database_url,
            "MAILREG_DATA_DIR": str(self.workdir),
            "MAILREG_JWT_SECRET": self.secret,
            "MAILREG_HOST": "127.0.0.1",
            "MAILREG_PORT": str(self.port),
            "MAILREG_LOG_FORMAT": "json",
        }

    def launch(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        with open(self.workdir / "serve.log", "ab") as output:
            self.popen = subprocess.Popen(
                [sys.executable, "-m", "api", "serve"],
                env=self.env(),
                cwd=self.workdir,
                stdout=output,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                preexec_fn=raise_nofile,
            )

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        self.workdir.mkdir(parents=True, exist_ok=True)
        return subprocess.run(
            [sys.executable, "-m", "api", *args],
            env=self.env(),
            cwd=self.workdir,
            capture_output=True,
            text=True,
            timeout=300,
        )

    async def ready(self, within: float = READY_WITHIN) -> None:
        """Wait until /readyz answers 200 (the database answers, migrations applied)."""
        deadline = time.monotonic() + within
        async with httpx.AsyncClient(timeout=2) as http:
            while time.monotonic() < deadline:
                if self.popen is not None and self.popen.poll() is not None:
                    raise RuntimeError(f"instance {self.number} exited with {self.popen.returncode}")
                try:
                    if (await http.get(f"{self.url}/readyz")).status_code == 200:
                        self.up = True
                        return
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.1)
        raise RuntimeError(f"instance {self.number} not ready within {within:.0f}s")

    async def kill(self) -> None:
        """kill -9: no goodbye to anyone."""
        self.up = False
        assert self.popen is not None
        self.popen.kill()
        await asyncio.to_thread(self.popen.wait, 30)

    async def terminate(self, within: float = 30.0) -> int | None:
        """SIGTERM and wait for the exit; its status (None if it had to be killed)."""
        self.up = False
        if self.popen is None or self.popen.poll() is not None:
            return self.popen.returncode if self.popen else None
        self.popen.send_signal(signal.SIGTERM)
        try:
            return await asyncio.to_thread(self.popen.wait, within)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            await asyncio.to_thread(self.popen.wait, 10)
            return None
