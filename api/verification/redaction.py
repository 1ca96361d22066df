"""Keeps passwords sent for a verification out of error messages."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from strawberry.extensions import SchemaExtension

from domain.verification import MIN_SCRUBBED_NAME

PASSWORD_KEYS = frozenset({"password", "sendingPassword"})
NAME_KEYS = frozenset({"username", "sendingUsername"})


def secrets_in(value: Any) -> set[str]:
    """Every non-empty string under a credential's key, at any depth."""
    found: set[str] = set()
    if isinstance(value, dict):
        for key, item in value.items():
            if key in PASSWORD_KEYS and isinstance(item, str) and item:
                found.add(item)
            elif key in NAME_KEYS and isinstance(item, str) and len(item) >= MIN_SCRUBBED_NAME:
                found.add(item)
            else:
                found |= secrets_in(item)
    elif isinstance(value, list):
        for item in value:
            found |= secrets_in(item)
    return found


class RedactCredentials(SchemaExtension):
    """GraphQL's own errors for a variable that fails to coerce quote the whole
    value, passwords included; this blanks them out before the response is built."""

    def on_operation(self) -> Iterator[None]:
        yield
        context = self.execution_context
        secrets = secrets_in(context.variables or {})
        if not secrets:
            return
        errors = [*(context.pre_execution_errors or []), *(getattr(context.result, "errors", None) or [])]
        for error in errors:
            for secret in secrets:
                error.message = error.message.replace(secret, "***")
