"""JWT bearer tokens: verification, the actor and roles they carry, and issuing."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt

ADMIN = "admin"
DEFAULT_TTL_SECONDS = 12 * 3600
# A fresh token from an identity provider whose clock runs a little fast is still accepted.
LEEWAY_SECONDS = 30
# How long a key fetched from the JWKS URL is used before it is fetched again,
# and how often an unknown kid may make us fetch the set (a flood of made-up kids must not).
REMOTE_KEY_SECONDS = 300
REMOTE_MISS_SECONDS = 30
_VERIFIED_KEPT = 1024


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a verified token names, with its roles and expiry."""

    subject: str
    roles: frozenset[str]
    expires_at: float | None = None

    @property
    def is_admin(self) -> bool:
        """Whether the token carries the admin role."""
        return ADMIN in self.roles


class InvalidTokenError(Exception):
    """A token that cannot be trusted: bad signature, expired, wrong issuer or audience, no subject."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TokenVerifier:
    """Verifies HS256 tokens with the shared secret, and RS256 ones when a
    public key is configured. The algorithm is chosen by the key, never by
    the token's own header."""

    secret: str
    public_key: Any | None = None
    jwks: jwt.PyJWKSet | None = None
    jwks_client: jwt.PyJWKClient | None = None
    issuer: str | None = None
    audience: str | None = None
    roles_claim: str = "roles"
    _remote: dict[str, tuple[Any, float]] = field(default_factory=dict, init=False, compare=False, repr=False)
    _misses: dict[str, float] = field(default_factory=dict, init=False, compare=False, repr=False)
    # Verifying a signature costs more than serving a cached read: each header
    # value verified once is remembered until its token expires.
    _verified: dict[str, Principal] = field(default_factory=dict, init=False, compare=False, repr=False)

    @classmethod
    def configured(
        cls,
        *,
        secret: str,
        public_key_file: Path | None = None,
        jwks_file: Path | None = None,
        jwks_url: str | None = None,
        issuer: str | None = None,
        audience: str | None = None,
        roles_claim: str = "roles",
    ) -> TokenVerifier:
        """A verifier with the shared secret and, when configured, the RS256 public key or JWKS
        read from files, and the keys of a JWKS URL (fetched by `fetch_keys`)."""
        public_key = public_key_file.read_text() if public_key_file else None
        jwks = jwt.PyJWKSet.from_json(jwks_file.read_text()) if jwks_file else None
        client = jwt.PyJWKClient(jwks_url, cache_keys=False, lifespan=REMOTE_KEY_SECONDS) if jwks_url else None
        return cls(
            secret=secret,
            public_key=public_key,
            jwks=jwks,
            jwks_client=client,
            issuer=issuer,
            audience=audience,
            roles_claim=roles_claim,
        )

    async def fetch_keys(self, authorization: str | None) -> None:
        """Make sure the JWKS URL's key for this token's kid is at hand, fetching it in a
        worker thread (never on the event loop); `verify` itself never goes to the network."""
        token = bearer(authorization)
        if self.jwks_client is None or token is None:
            return
        try:
            kid = jwt.get_unverified_header(token).get("kid")
        except jwt.PyJWTError:
            return
        now = time.monotonic()
        if not isinstance(kid, str) or (kid in self._remote and now - self._remote[kid][1] < REMOTE_KEY_SECONDS):
            return
        if now - self._misses.get(kid, -REMOTE_MISS_SECONDS) < REMOTE_MISS_SECONDS:
            return
        try:
            key = await asyncio.to_thread(self.jwks_client.get_signing_key, kid)
        except jwt.PyJWKClientError:
            self._misses[kid] = now
            self._remote.pop(kid, None)
            return
        self._remote[kid] = (key.key, now)

    def _rsa_key(self, header: dict[str, Any]) -> Any | None:
        kid = header.get("kid")
        if isinstance(kid, str) and kid in self._remote:
            key, fetched = self._remote[kid]
            if time.monotonic() - fetched < REMOTE_KEY_SECONDS:
                return key
        if self.jwks is not None and isinstance(kid, str):
            try:
                return self.jwks[kid].key
            except KeyError:
                return None
        return self.public_key

    def principal(self, authorization: str | None) -> Principal | None:
        """The principal of an Authorization header value; None when missing, bad or expired."""
        if authorization is None:
            return None
        known = self._verified.get(authorization)
        if known is not None:
            if known.expires_at is None or time.time() < known.expires_at + LEEWAY_SECONDS:
                return known
            del self._verified[authorization]
            return None
        token = bearer(authorization)
        if token is None:
            return None
        try:
            principal = self.verify(token)
        except InvalidTokenError:
            return None
        if len(self._verified) >= _VERIFIED_KEPT:
            del self._verified[next(iter(self._verified))]
        self._verified[authorization] = principal
        return principal

    def verify(self, token: str) -> Principal:
        """The principal of a token, or InvalidTokenError."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as error:
            raise InvalidTokenError(str(error)) from error
        algorithm = header.get("alg")
        if algorithm == "HS256":
            key: Any = self.secret
        elif algorithm == "RS256" and (rsa_key := self._rsa_key(header)) is not None:
            key = rsa_key
        else:
            raise InvalidTokenError(f"algorithm {algorithm!r} is not accepted")
        options: Any = {"require": ["sub"], "verify_aud": self.audience is not None}
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[algorithm],
                issuer=self.issuer,
                audience=self.audience,
                options=options,
                leeway=LEEWAY_SECONDS,
            )
        except jwt.PyJWTError as error:
            raise InvalidTokenError(str(error)) from error
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject:
            raise InvalidTokenError("sub must be a non-empty string")
        roles = _claim(claims, self.roles_claim)
        if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
            roles = []
        exp = claims.get("exp")
        return Principal(
            subject=subject,
            roles=frozenset(roles),
            expires_at=float(exp) if isinstance(exp, (int, float)) else None,
        )


def _claim(claims: dict[str, Any], name: str) -> Any:
    """A claim by name; a dotted name reaches into objects (e.g. Keycloak's realm_access.roles)
    when no claim has the whole dotted name."""
    if name in claims:
        return claims[name]
    value: Any = claims
    for part in name.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def bearer(header: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` value."""
    if not header:
        return None
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def issue(
    secret: str,
    subject: str,
    roles: list[str],
    *,
    ttl_seconds: int = DEFAULT_TTL_SECONDS,
    issuer: str | None = None,
    audience: str | None = None,
) -> str:
    """An HS256 token for this subject and roles, expiring after ttl_seconds (12 hours unless given)."""
    now = int(time.time())
    claims: dict[str, Any] = {"sub": subject, "roles": roles, "iat": now, "exp": now + ttl_seconds}
    if issuer:
        claims["iss"] = issuer
    if audience:
        claims["aud"] = audience
    return jwt.encode(claims, secret, algorithm="HS256")
