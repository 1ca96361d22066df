"""Safe token defaults: printed tokens expire (12 hours unless --ttl says otherwise),
verification allows 30 s of clock skew, RS256 keys from a JWKS URL fetched off the
event loop, and a configurable roles claim. In-process on SQLite."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from api.config import Config
from api.setup import prepare
from tests.e2e.conftest import sqlite_url
from tests.e2e.hardening import Harness, in_process
from tests.support import ROOT, SECRET

PROBE = "{ mailServers { totalCount } }"
TWELVE_HOURS = 12 * 3600


def claims_of(printed: str) -> dict[str, Any]:
    return jwt.decode(printed.strip().splitlines()[-1], SECRET, algorithms=["HS256"])


def mailreg(*args: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MAILREG_JWT_SECRET": SECRET, "MAILREG_DATA_DIR": str(data_dir)}
    return subprocess.run(
        [sys.executable, "-m", "api", *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60
    )


def test_mailreg_token_expires_after_twelve_hours_unless_told_otherwise(tmp_path: Path):
    default = claims_of(mailreg("token", "--sub", "alice", "--role", "admin", data_dir=tmp_path).stdout)
    short = claims_of(mailreg("token", "--sub", "alice", "--ttl", "600", data_dir=tmp_path).stdout)
    refused = mailreg("token", "--sub", "alice", "--ttl", "0", data_dir=tmp_path)

    assert default["exp"] - default["iat"] == TWELVE_HOURS
    assert short["exp"] - short["iat"] == 600
    assert refused.returncode != 0 and "--ttl" in refused.stderr


async def test_the_first_start_admin_token_expires_after_twelve_hours(tmp_path: Path):
    config = Config(
        database_url=sqlite_url(tmp_path),
        data_dir=tmp_path,
        jwt_secret=None,
        jwt_public_key_file=None,
        jwt_issuer=None,
        jwt_audience=None,
        host="127.0.0.1",
        port=0,
        log_format="text",
    )
    notice = await prepare(config)

    assert notice is not None and "12 hours" in notice
    lines = notice.splitlines()
    printed = next(lines[n + 1] for n, line in enumerate(lines) if "admin token" in line)
    claims = jwt.decode(printed, (tmp_path / "jwt-secret").read_text(), algorithms=["HS256"])
    assert claims["exp"] - claims["iat"] == TWELVE_HOURS


@pytest.fixture(scope="module")
async def plain(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Harness]:
    folder = tmp_path_factory.mktemp("leeway")
    async with in_process(sqlite_url(folder), folder) as harness:
        yield harness


def hs256(**claims: Any) -> str:
    return jwt.encode({"sub": "ops", "roles": ["admin"], **claims}, SECRET, algorithm="HS256")


async def code(site: Harness, bearer: str) -> str | None:
    body = await site.gql(PROBE, bearer=bearer)
    return body["errors"][0]["extensions"]["code"] if "errors" in body else None


async def test_a_token_from_a_clock_a_little_ahead_or_behind_is_accepted(plain: Harness):
    now = int(time.time())

    assert await code(plain, hs256(iat=now + 20, nbf=now + 20, exp=now + 600)) is None
    assert await code(plain, hs256(exp=now - 20)) is None
    assert await code(plain, hs256(nbf=now + 120, exp=now + 600)) == "UNAUTHENTICATED"
    assert await code(plain, hs256(exp=now - 60)) == "UNAUTHENTICATED"


async def test_the_roles_claim_is_the_one_configured(tmp_path: Path):
    async with in_process(sqlite_url(tmp_path), tmp_path, jwt_roles_claim="realm_access.roles") as site:
        nested = jwt.encode({"sub": "kc", "realm_access": {"roles": ["admin"]}}, SECRET, algorithm="HS256")
        top_level = jwt.encode({"sub": "kc", "roles": ["admin"]}, SECRET, algorithm="HS256")

        assert await code(site, nested) is None
        assert await code(site, top_level) == "FORBIDDEN"


class JwksServer:
    """A JWKS document on a loopback HTTP server that can hold its answers back."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        self.requests = 0
        self.reached = threading.Event()
        self.release = threading.Event()
        self.release.set()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.requests += 1
                outer.reached.set()
                outer.release.wait(30)
                body = json.dumps(outer.document).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/jwks.json"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)


@pytest.fixture
def idp() -> Iterator[tuple[JwksServer, rsa.RSAPrivateKey]]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = {**RSAAlgorithm.to_jwk(key.public_key(), as_dict=True), "kid": "idp-1", "use": "sig", "alg": "RS256"}
    server = JwksServer({"keys": [jwk]})
    server.thread.start()
    yield server, key
    server.release.set()
    server.server.shutdown()
    server.server.server_close()


async def test_rs256_keys_come_from_a_jwks_url_fetched_off_the_event_loop(
    tmp_path: Path, idp: tuple[JwksServer, rsa.RSAPrivateKey]
):
    server, key = idp
    signed = jwt.encode({"sub": "sso-admin", "roles": ["admin"]}, key, algorithm="RS256", headers={"kid": "idp-1"})
    unknown_kid = jwt.encode({"sub": "x", "roles": ["admin"]}, key, algorithm="RS256", headers={"kid": "nope"})
    async with in_process(sqlite_url(tmp_path), tmp_path, jwt_jwks_url=server.url) as site:
        server.release.clear()
        pending = asyncio.create_task(code(site, signed))
        assert await asyncio.to_thread(server.reached.wait, 30)
        # The key is being fetched and the JWKS server holds its answer: the app still serves others.
        health = await site.http.get("/healthz")
        assert health.status_code == 200 and not pending.done()
        server.release.set()

        assert await pending is None
        assert await code(site, signed) is None
        assert server.requests == 1  # the key is kept, not fetched per request
        assert await code(site, unknown_kid) == "UNAUTHENTICATED"
