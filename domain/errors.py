"""Typed domain errors. They carry field paths and codes, never prose."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ErrorCode(StrEnum):
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
    pass


class ServerNotFoundError(MailServerError):
    def __init__(self, field: Path = ("id",)) -> None:
        super().__init__(Problem(field, ErrorCode.NOT_FOUND))


class VersionConflictError(MailServerError):
    def __init__(self, field: Path) -> None:
        super().__init__(Problem(field, ErrorCode.VERSION_CONFLICT))


class OrderMismatchError(MailServerError):
    def __init__(self) -> None:
        super().__init__(Problem(("ids",), ErrorCode.ORDER_MISMATCH))


class IdempotencyKeyReusedError(MailServerError):
    def __init__(self) -> None:
        super().__init__(Problem(("idempotencyKey",), ErrorCode.IDEMPOTENCY_KEY_REUSED))
