"""Tokens that must not get a caller past the admin-only operations."""

from __future__ import annotations

import jwt

from api.auth import issue
from tests.support import SECRET, token

# kind -> (Authorization token or None, the top-level error code expected)
REJECTED: dict[str, tuple[str | None, str]] = {
    "no token": (None, "UNAUTHENTICATED"),
    "garbage": ("not-a-jwt", "UNAUTHENTICATED"),
    "wrong secret": (issue("another-secret-that-is-long-enough-too!", "admin-user", ["admin"]), "UNAUTHENTICATED"),
    "alg none": (jwt.encode({"sub": "admin-user", "roles": ["admin"]}, "", algorithm="none"), "UNAUTHENTICATED"),
    "expired": (token(ttl=-60), "UNAUTHENTICATED"),
    "non-admin": (token("clerk", roles=[]), "FORBIDDEN"),
    "roles not a list": (jwt.encode({"sub": "clerk", "roles": "admin"}, SECRET, algorithm="HS256"), "FORBIDDEN"),
}

SIGNED_IN_NON_ADMIN = token("clerk", roles=["user"])
