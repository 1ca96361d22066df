"""Typed domain errors. They carry field paths and codes, never prose."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ErrorCode(StrEnum):
    """Why an input was refused; the values are the contract's UserErrorCode."""

    REQUIRED = "REQUIRED"
    INVALID = "INVALID"
    OUT_OF_RANGE = "OUT_OF_RANGE"
    NOT_APPLICABLE = "NOT_APPLICABLE"
    SET_AUTOMATICALLY = "SET_AUTOMATICALLY"
    CODE_ALREADY_EXISTS = "CODE_ALREADY_EXISTS"
    NOT_FOUND = "NOT_FOUND"
    VERSION_CONFLICT = "VERSION_CONFLICT"
    ORDER_MISMATCH = "ORDER_MISMATCH"
    IDEMPOTENCY_KEY_REUSED = "IDEMPOTENCY_KEY_REUSED"
    RATE_LIMITED = "RATE_LIMITED"


Path = tuple[str, ...] | None


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a command: where (a path into the input) and what."""

    field: Path
    code: ErrorCode


class InvalidValueError(ValueError):
    """Raised by a value constructor; the caller knows the field path."""

    def __init__(self, code: ErrorCode) -> None:
        super().__init__(code.value)
        self.code = code


class MailServerError(Exception):
    """A command was rejected. `problems` lists every reason at once."""

    def __init__(self, *problems: Problem) -> None:
        super().__init__(", ".join(f"{p.field}:{p.code}" for p in problems))
        self.problems: tuple[Problem, ...] = problems


class ValidationError(MailServerError):
    """One or more inputs are invalid (their problems say where and why)."""

    pass


class ServerNotFoundError(MailServerError):
    """No live server has the id (or code) given."""

    def __init__(self, field: Path = ("id",)) -> None:
        super().__init__(Problem(field, ErrorCode.NOT_FOUND))


class VersionConflictError(MailServerError):
    """The server or list changed since the version the caller saw."""

    def __init__(self, field: Path) -> None:
        super().__init__(Problem(field, ErrorCode.VERSION_CONFLICT))


class OrderMismatchError(MailServerError):
    """The new order is not a permutation of the current list."""

    def __init__(self) -> None:
        super().__init__(Problem(("ids",), ErrorCode.ORDER_MISMATCH))


class IdempotencyKeyReusedError(MailServerError):
    """The idempotency key was already used for a different request."""

    def __init__(self) -> None:
        super().__init__(Problem(("idempotencyKey",), ErrorCode.IDEMPOTENCY_KEY_REUSED))
