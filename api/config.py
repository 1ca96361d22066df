"""Configuration from the environment, the same for every command."""

from __future__ import annotations

import os
import secrets
import ssl
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from strawberry.http.websocket_origin import normalize_origin

from events import snapshots

MIN_SECRET_BYTES = 32
LOG_LEVELS = ("debug", "info", "warning", "error", "critical")


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
    jwt_jwks_url: str | None = None
    jwt_roles_claim: str = "roles"
    host: str
    port: int
    log_format: str
    log_level: str = "info"
    cors_origins: tuple[str, ...] = ()
    verify_ca_file: Path | None = None

    @classmethod
    def from_env(cls) -> Config:
        """The configuration from MAILREG_* variables, or ConfigError."""
        env = os.environ
        data_dir = Path(env.get("MAILREG_DATA_DIR", "data")).resolve()
        url = _value_or_file("MAILREG_DATABASE_URL", "MAILREG_DATABASE_URL_FILE")
        url = url or f"sqlite+aiosqlite:///{data_dir / 'mailreg.sqlite3'}"
        secret = _value_or_file("MAILREG_JWT_SECRET", "MAILREG_JWT_SECRET_FILE")
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
        log_level = env.get("MAILREG_LOG_LEVEL", "info").strip().lower() or "info"
        if log_level not in LOG_LEVELS:
            raise ConfigError(f"MAILREG_LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}")
        origins = _origins(env.get("MAILREG_CORS_ORIGINS", ""))
        return cls(
            database_url=url,
            data_dir=data_dir,
            jwt_secret=secret,
            jwt_public_key_file=Path(key_file) if key_file else None,
            jwt_jwks_file=Path(jwks_file) if jwks_file else None,
            jwt_issuer=env.get("MAILREG_JWT_ISSUER") or None,
            jwt_audience=env.get("MAILREG_JWT_AUDIENCE") or None,
            jwt_jwks_url=env.get("MAILREG_JWT_JWKS_URL") or None,
            jwt_roles_claim=env.get("MAILREG_JWT_ROLES_CLAIM") or "roles",
            host=env.get("MAILREG_HOST", "127.0.0.1"),
            port=port,
            log_format=env.get("MAILREG_LOG_FORMAT", "text"),
            log_level=log_level,
            cors_origins=origins,
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


def _value_or_file(name: str, file_variable: str) -> str | None:
    """The variable's value, or the stripped content of the file named by its _FILE
    twin (the way container platforms hand secrets over); both at once is an error."""
    value = os.environ.get(name) or None
    file_name = os.environ.get(file_variable) or None
    if value is not None and file_name is not None:
        raise ConfigError(f"set either {name} or {file_variable}, not both")
    if file_name is None:
        return value
    try:
        content = Path(file_name).read_text(encoding="utf-8").strip()
    except OSError as error:
        raise ConfigError(f"{file_variable}: cannot read {file_name}: {error.strerror}") from None
    if not content:
        raise ConfigError(f"{file_variable}: {file_name} is empty")
    return content


def _origins(value: str) -> tuple[str, ...]:
    """The comma-separated origins, as browsers send them in `Origin` (lower case, no default port)."""
    origins = []
    for given in (part.strip() for part in value.split(",")):
        if not given:
            continue
        parts = urlsplit(given)
        origin = normalize_origin(given)
        if origin is None or parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
            raise ConfigError(f"MAILREG_CORS_ORIGINS: {given!r} is not an origin like https://office.example.com")
        origins.append(origin)
    return tuple(origins)
