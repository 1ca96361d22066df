"""Start-up refuses HS256 secrets shorter than 32 bytes (`mailreg serve` exits
non-zero with a clear message), and the key settings come from the environment."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path

import httpx
import pytest

from api.config import Config, ConfigError
from api.setup import prepare
from tests.e2e.conftest import create_app
from tests.support import ROOT, SECRET, free_port

ISSUER = "https://idp.example.com/"
AUDIENCE = "mailreg"


def test_the_key_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    for name, value in {
        "MAILREG_JWT_SECRET": SECRET,
        "MAILREG_DATA_DIR": str(tmp_path),
        "MAILREG_JWT_PUBLIC_KEY_FILE": "/keys/public.pem",
        "MAILREG_JWT_JWKS_FILE": "/keys/jwks.json",
        "MAILREG_JWT_ISSUER": ISSUER,
        "MAILREG_JWT_AUDIENCE": AUDIENCE,
    }.items():
        monkeypatch.setenv(name, value)
    config = Config.from_env()
    assert (config.jwt_public_key_file, config.jwt_jwks_file) == (Path("/keys/public.pem"), Path("/keys/jwks.json"))
    assert (config.jwt_issuer, config.jwt_audience) == (ISSUER, AUDIENCE)


@pytest.mark.parametrize(
    ("secret", "accepted"),
    [
        ("x" * 31, False),
        ("é" * 15, False),
        ("x" * 32, True),
        ("é" * 16, True),
    ],
)
def test_hs256_secrets_are_measured_in_bytes(monkeypatch: pytest.MonkeyPatch, secret: str, accepted: bool):
    monkeypatch.setenv("MAILREG_JWT_SECRET", secret)
    if accepted:
        assert Config.from_env().jwt_secret == secret
    else:
        with pytest.raises(ConfigError, match="at least 32 bytes"):
            Config.from_env()


async def serve(folder: Path, **env: str) -> tuple[int | None, str]:
    """Runs `mailreg serve` until it exits (its status) or answers /healthz (None, then stopped)."""
    port = free_port()
    environment = {k: v for k, v in os.environ.items() if not k.startswith("MAILREG_")}
    environment.update(
        MAILREG_DATA_DIR=str(folder), MAILREG_HOST="127.0.0.1", MAILREG_PORT=str(port), PYTHONPATH=str(ROOT), **env
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "api",
        "serve",
        env=environment,
        cwd=folder,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    deadline = time.monotonic() + 90
    async with httpx.AsyncClient() as http:
        while process.returncode is None and time.monotonic() < deadline:
            try:
                if (await http.get(f"http://127.0.0.1:{port}/healthz", timeout=0.5)).status_code == 200:
                    break
            except httpx.HTTPError:
                await asyncio.sleep(0.2)
    status = process.returncode
    if status is None:
        process.terminate()
    output, _ = await process.communicate()
    return status, output.decode(errors="replace")


@pytest.mark.slow
async def test_serve_refuses_an_hs256_secret_shorter_than_32_bytes(tmp_path: Path):
    status, output = await serve(tmp_path, MAILREG_JWT_SECRET="x" * 31)
    assert status not in (None, 0), output
    assert "MAILREG_JWT_SECRET must be at least 32 bytes" in output, output
    assert "Traceback" not in output


async def test_serve_refuses_a_short_secret_kept_in_the_data_folder(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    (tmp_path / "jwt-secret").write_text("too-short")
    monkeypatch.delenv("MAILREG_JWT_SECRET", raising=False)
    monkeypatch.delenv("MAILREG_DATABASE_URL", raising=False)
    monkeypatch.setenv("MAILREG_DATA_DIR", str(tmp_path))
    with pytest.raises(ConfigError, match="32 bytes"):  # what `mailreg serve` does before uvicorn runs
        config = Config.from_env()
        await prepare(config)
        create_app(config)


@pytest.mark.parametrize("every", ["0", "-5", "many", "1.5"])
async def test_serve_refuses_a_snapshot_interval_that_is_not_a_positive_integer(tmp_path: Path, every: str):
    status, output = await serve(tmp_path, MAILREG_JWT_SECRET="x" * 32, MAILREG_SNAPSHOT_EVERY=every)

    assert status == 2, output
    assert "MAILREG_SNAPSHOT_EVERY must be a positive integer" in output, output
    assert "Traceback" not in output
