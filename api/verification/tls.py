"""TLS for the probes: the client context a mail client would use (TLS 1.2 or
newer, system trust store plus an optional extra CA file), and how a failed
handshake reads as a finding."""

from __future__ import annotations

import ssl
import warnings
from collections.abc import Iterator
from pathlib import Path

from domain.verification import FindingCode

# OpenSSL's reasons when the two sides share no protocol version: the server
# speaks only versions below our minimum.
_VERSION_REASONS = frozenset(
    {"TLSV1_ALERT_PROTOCOL_VERSION", "UNSUPPORTED_PROTOCOL", "NO_PROTOCOLS_AVAILABLE", "VERSION_TOO_LOW"}
)


def client_context(extra_ca_file: Path | None) -> ssl.SSLContext:
    """Verifies chain and host name; refuses anything below TLS 1.2."""
    context = ssl.create_default_context()
    if extra_ca_file is not None:
        context.load_verify_locations(cafile=str(extra_ca_file))
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def legacy_context() -> ssl.SSLContext:
    """Only for naming the old version a server insists on: TLS 1.0/1.1, no
    verification, nothing sent over it."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with warnings.catch_warnings():
        # Python warns that these versions are deprecated, which is the point.
        warnings.simplefilter("ignore", DeprecationWarning)
        context.minimum_version = ssl.TLSVersion.TLSv1
        context.maximum_version = ssl.TLSVersion.TLSv1_1
    # OpenSSL 3 allows TLS below 1.2 only at security level 0.
    context.set_ciphers("DEFAULT:@SECLEVEL=0")
    return context


def causes(error: BaseException) -> Iterator[BaseException]:
    """The error and what it was raised from (libraries wrap socket errors)."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def handshake_failure(error: BaseException) -> tuple[FindingCode, str]:
    """The finding for an error raised during a TLS handshake, and a detail."""
    for cause in causes(error):
        if isinstance(cause, ssl.SSLCertVerificationError):
            return FindingCode.CERTIFICATE_INVALID, str(cause.verify_message or cause.reason or "")
        if isinstance(cause, ssl.SSLError) and cause.reason in _VERSION_REASONS:
            return FindingCode.TLS_VERSION_TOO_OLD, str(cause.reason)
        if isinstance(cause, TimeoutError):
            return FindingCode.TIMEOUT, ""
    for cause in causes(error):
        if isinstance(cause, ssl.SSLError):
            return FindingCode.TLS_HANDSHAKE_FAILED, str(cause.reason or cause.strerror or cause)
    return FindingCode.TLS_HANDSHAKE_FAILED, type(error).__name__
