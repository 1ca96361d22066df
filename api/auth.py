"""JWT bearer tokens: verification, the actor and roles they carry, and issuing."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt

ADMIN = "admin"
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
    issuer: str | None = None
    audience: str | None = None
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
        issuer: str | None = None,
        audience: str | None = None,
    ) -> TokenVerifier:
        """A verifier with the shared secret and, when configured, the RS256 public key or JWKS read from files."""
        public_key = public_key_file.read_text() if public_key_file else None
        jwks = jwt.PyJWKSet.from_json(jwks_file.read_text()) if jwks_file else None
        return cls(secret=secret, public_key=public_key, jwks=jwks, issuer=issuer, audience=audience)

    def _rsa_key(self, header: dict[str, Any]) -> Any | None:
        kid = header.get("kid")
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
            if known.expires_at is None or time.time() < known.expires_at:
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
                token, key, algorithms=[algorithm], issuer=self.issuer, audience=self.audience, options=options
            )
        except jwt.PyJWTError as error:
            raise InvalidTokenError(str(error)) from error
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject:
            raise InvalidTokenError("sub must be a non-empty string")
        roles = claims.get("roles")
        if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
            roles = []
        exp = claims.get("exp")
        return Principal(
            subject=subject, roles=frozenset(roles), expires_at=float(exp) if isinstance(exp, (int, float)) else None
        )


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
    ttl_seconds: int | None = None,
    issuer: str | None = None,
    audience: str | None = None,
) -> str:
    """An HS256 token for this subject and roles, expiring after ttl_seconds when given."""
    claims: dict[str, Any] = {"sub": subject, "roles": roles, "iat": int(time.time())}
    if ttl_seconds is not None:
        claims["exp"] = int(time.time()) + ttl_seconds
    if issuer:
        claims["iss"] = issuer
    if audience:
        claims["aud"] = audience
    return jwt.encode(claims, secret, algorithm="HS256")
