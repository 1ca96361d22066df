"""Configuration from the environment, the same for every command."""

from __future__ import annotations

import os
import secrets
import ssl
from dataclasses import dataclass
from pathlib import Path

from events import snapshots

MIN_SECRET_BYTES = 32


class ConfigError(Exception):
    """The environment asks for something we cannot run with."""


def _check_ca_file(path: str) -> None:
    if not Path(path).is_file():
        raise ConfigError(f"MAILREG_VERIFY_CA_FILE: no file {path}")
    try:
        ssl.create_default_context(cafile=path)
    except (ssl.SSLError, ValueError):
        raise ConfigError(f"MAILREG_VERIFY_CA_FILE: {path} holds no PEM CA certificate") from None


@dataclass(frozen=True, slots=True, kw_only=True)
class Config:
    """Settings every command reads from the environment."""

    database_url: str
    data_dir: Path
    jwt_secret: str | None
    jwt_public_key_file: Path | None
    jwt_jwks_file: Path | None = None
    jwt_issuer: str | None
    jwt_audience: str | None
    host: str
    port: int
    log_format: str
    verify_ca_file: Path | None = None

    @classmethod
    def from_env(cls) -> Config:
        """The configuration from MAILREG_* variables, or ConfigError."""
        env = os.environ
        data_dir = Path(env.get("MAILREG_DATA_DIR", "data")).resolve()
        url = env.get("MAILREG_DATABASE_URL") or f"sqlite+aiosqlite:///{data_dir / 'mailreg.sqlite3'}"
        secret = env.get("MAILREG_JWT_SECRET") or None
        if secret is not None and len(secret.encode()) < MIN_SECRET_BYTES:
            raise ConfigError(f"MAILREG_JWT_SECRET must be at least {MIN_SECRET_BYTES} bytes long")
        key_file = env.get("MAILREG_JWT_PUBLIC_KEY_FILE")
        jwks_file = env.get("MAILREG_JWT_JWKS_FILE")
        ca_file = env.get("MAILREG_VERIFY_CA_FILE") or None
        if ca_file is not None:
            _check_ca_file(ca_file)
        try:
            port = int(env.get("MAILREG_PORT", "8000"))
        except ValueError:
            raise ConfigError("MAILREG_PORT must be a number") from None
        try:
            snapshots.interval()  # read where it is used; checked here so a bad value stops the start
        except ValueError as error:
            raise ConfigError(str(error)) from None
        return cls(
            database_url=url,
            data_dir=data_dir,
            jwt_secret=secret,
            jwt_public_key_file=Path(key_file) if key_file else None,
            jwt_jwks_file=Path(jwks_file) if jwks_file else None,
            jwt_issuer=env.get("MAILREG_JWT_ISSUER") or None,
            jwt_audience=env.get("MAILREG_JWT_AUDIENCE") or None,
            host=env.get("MAILREG_HOST", "127.0.0.1"),
            port=port,
            log_format=env.get("MAILREG_LOG_FORMAT", "text"),
            verify_ca_file=Path(ca_file) if ca_file else None,
        )

    @property
    def is_sqlite(self) -> bool:
        """Whether the store is the embedded SQLite database."""
        return self.database_url.startswith("sqlite")

    @property
    def secret_file(self) -> Path:
        """Where a generated HS256 secret is kept."""
        return self.data_dir / "jwt-secret"

    def secret(self, *, create: bool = False) -> tuple[str, bool]:
        """The HS256 secret: configured, kept in the data folder, or (with
        `create`) generated and kept there. Returns (secret, was_generated)."""
        if self.jwt_secret is not None:
            return self.jwt_secret, False
        if self.secret_file.exists():
            kept = self.secret_file.read_text().strip()
            if len(kept.encode()) < MIN_SECRET_BYTES:
                raise ConfigError(f"the secret in {self.secret_file} is shorter than {MIN_SECRET_BYTES} bytes")
            return kept, False
        if not create:
            raise ConfigError("no MAILREG_JWT_SECRET and no generated secret yet: run `mailreg serve` once")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        value = secrets.token_urlsafe(48)
        descriptor = os.open(self.secret_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(value)
        return value, True
