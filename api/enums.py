"""The domain's enums exposed to GraphQL as they are, with the contract's descriptions."""

from __future__ import annotations

from enum import Enum
from typing import TypeVar

import strawberry

from api.limits import PORTS, TIMEOUTS
from domain.errors import ErrorCode
from domain.values import (
    OAuthProvider,
    ReceiveProtocol,
    SmtpAuthMethod,
    SmtpCredentials,
    SmtpEncryption,
)

E = TypeVar("E", bound=type[Enum])


def described(enum: E, description: str, values: dict[str, str], name: str | None = None) -> E:
    """Register a domain enum with GraphQL unchanged, describing it and every one of its values."""
    wrapped = strawberry.enum(enum, name=name, description=description)
    definition = wrapped.__strawberry_definition__  # type: ignore[attr-defined]
    missing = {value.name for value in definition.values} ^ values.keys()
    if missing:
        raise ValueError(f"{enum.__name__}: descriptions missing or unknown for {sorted(missing)}")
    for value in definition.values:
        value.description = values[value.name]
    return wrapped


described(
    OAuthProvider,
    "Who signs the server's users in with OAuth; the server's hosts and ports then follow that provider's preset.",
    {"GOOGLE": "Gmail / Google Workspace.", "MICROSOFT": "Exchange Online / Microsoft 365."},
)
described(
    SmtpEncryption,
    "How the outgoing (SMTP) connection is encrypted.",
    {
        "NONE": "No encryption (使用しない).",
        "TLS": "Implicit TLS 1.2 or 1.3 from the start, e.g. port 465 (TLSを使用する).",
        "STARTTLS": "A plain connection upgraded with STARTTLS, e.g. port 587 (STARTTLSを使用する).",
    },
)
described(
    SmtpAuthMethod,
    "How the outgoing (SMTP) server is signed in to.",
    {
        "NONE": "No SMTP authentication ((設定なし)).",
        "PLAIN": "SASL PLAIN.",
        "LOGIN": "SASL LOGIN.",
        "CRAM_MD5": "SASL CRAM-MD5.",
        "DIGEST_MD5": "SASL DIGEST-MD5.",
        "XOAUTH2": "OAuth 2.0 bearer token; only ever set automatically, for OAuth servers.",
    },
)
described(
    SmtpCredentials,
    "Which credentials SMTP authentication uses (送信用のアカウントとパスワード).",
    {
        "SENDING_ACCOUNT": "設定する: the sending account name and password set on the user account.",
        "RECEIVING_ACCOUNT": "設定しない: the receiving account name and password.",
    },
)
described(
    ReceiveProtocol,
    "The protocol mail is received with.",
    {"POP3": "POP3, optionally with APOP.", "IMAP4": "IMAP4."},
)
described(
    ErrorCode,
    "Why a mutation failed, for one field of its input or for the whole input.",
    {
        "REQUIRED": "A required value is missing or blank.",
        "INVALID": "A malformed value (host name, code characters, ...).",
        "OUT_OF_RANGE": f"Port outside {PORTS}, timeout outside {TIMEOUTS}, or too long.",
        "NOT_APPLICABLE": "A value given where it has no meaning (APOP with IMAP4, credentials with auth NONE).",
        "SET_AUTOMATICALLY": "Host, port, encryption or TLS given for an OAuth server.",
        "CODE_ALREADY_EXISTS": "Another live server has this code.",
        "NOT_FOUND": "No live server with this id, or no event at that position.",
        "VERSION_CONFLICT": "expectedVersion or expectedListVersion is stale.",
        "ORDER_MISMATCH": "The reorder list is not a permutation of the live servers.",
        "IDEMPOTENCY_KEY_REUSED": "The key was used before with a different input.",
        "RATE_LIMITED": "Too many verifications in flight; try again shortly.",
    },
    name="UserErrorCode",
)
