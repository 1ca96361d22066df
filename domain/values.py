"""Value objects. Each constructor trims and checks format, raising InvalidValueError."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from enum import StrEnum

import idna

from domain.errors import ErrorCode, InvalidValueError

MAX_LABEL_LENGTH = 100
"""The most characters a server's code or name may have."""
MAX_HOST_LENGTH = 253
"""The most characters a host name may have (RFC 1035), a trailing dot not counted."""
MIN_PORT, MAX_PORT = 1, 65535
"""The TCP ports a server may name."""
MIN_TIMEOUT_SECONDS, MAX_TIMEOUT_SECONDS = 10, 120
"""The connection timeouts, in seconds, a server may set."""
DEFAULT_TIMEOUT = 60
"""The connection timeout, in seconds, when none is given."""


class OAuthProvider(StrEnum):
    """Who signs the server's users in when it uses OAuth."""

    GOOGLE = "GOOGLE"
    MICROSOFT = "MICROSOFT"


class SmtpEncryption(StrEnum):
    """How the SMTP connection is encrypted."""

    NONE = "NONE"
    TLS = "TLS"
    STARTTLS = "STARTTLS"


class SmtpAuthMethod(StrEnum):
    """How the SMTP client authenticates."""

    NONE = "NONE"
    PLAIN = "PLAIN"
    LOGIN = "LOGIN"
    CRAM_MD5 = "CRAM_MD5"
    DIGEST_MD5 = "DIGEST_MD5"
    XOAUTH2 = "XOAUTH2"


class SmtpCredentials(StrEnum):
    """Whose credentials the SMTP client authenticates with."""

    SENDING_ACCOUNT = "SENDING_ACCOUNT"
    RECEIVING_ACCOUNT = "RECEIVING_ACCOUNT"


class ReceiveProtocol(StrEnum):
    """How mail is received."""

    POP3 = "POP3"
    IMAP4 = "IMAP4"


# Unicode White_Space. str.strip() would also drop U+001C..U+001F, which are
# control characters (INVALID), not white space.
_WHITE_SPACE = (
    "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006"
    "\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)


# Unicode's Cc category is exactly these 65 code points; one regex search
# beats asking unicodedata about each character of every name.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _label(raw: str | None, max_length: int) -> str:
    if raw is None:
        raise InvalidValueError(ErrorCode.REQUIRED)
    value = raw.strip(_WHITE_SPACE)
    if not value:
        raise InvalidValueError(ErrorCode.REQUIRED)
    if _CONTROL.search(value):
        raise InvalidValueError(ErrorCode.INVALID)
    if len(value) > max_length:
        raise InvalidValueError(ErrorCode.OUT_OF_RANGE)
    return value


@dataclass(frozen=True, slots=True)
class ServerCode:
    """A server's code: trimmed, 1 to MAX_LABEL_LENGTH characters, no control characters."""

    value: str

    @classmethod
    def parse(cls, raw: str | None) -> ServerCode:
        """The code in `raw`, or InvalidValueError."""
        return cls(_label(raw, MAX_LABEL_LENGTH))


@dataclass(frozen=True, slots=True)
class ServerName:
    """A server's name: trimmed, 1 to MAX_LABEL_LENGTH characters, no control characters."""

    value: str

    @classmethod
    def parse(cls, raw: str | None) -> ServerName:
        """The name in `raw`, or InvalidValueError."""
        return cls(_label(raw, MAX_LABEL_LENGTH))


_DNS_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


@dataclass(frozen=True, slots=True)
class HostName:
    """A DNS name (IDNA ASCII form, lower case), an IPv4 or an IPv6 address."""

    value: str

    @classmethod
    def parse(cls, raw: str | None) -> HostName:
        """The host in `raw` in canonical form, or InvalidValueError."""
        if raw is None or not raw.strip(_WHITE_SPACE):
            raise InvalidValueError(ErrorCode.REQUIRED)
        text = raw.strip(_WHITE_SPACE)
        if len(text.removesuffix(".")) > MAX_HOST_LENGTH:
            raise InvalidValueError(ErrorCode.OUT_OF_RANGE)
        try:
            return cls(str(ipaddress.IPv4Address(text)))
        except ValueError:
            pass
        if ":" in text:
            if "%" in text or "[" in text:
                raise InvalidValueError(ErrorCode.INVALID)
            try:
                return cls(str(ipaddress.IPv6Address(text)))
            except ValueError:
                raise InvalidValueError(ErrorCode.INVALID) from None
        return cls(_dns_name(text))


def _dns_name(text: str) -> str:
    text = text.removesuffix(".")
    if not text.isascii():
        try:
            text = idna.encode(text, uts46=True).decode("ascii")
        except idna.IDNAError as error:
            # The A-label form can outgrow the limit the raw text was within.
            code = ErrorCode.OUT_OF_RANGE if str(error) == "Domain too long" else ErrorCode.INVALID
            raise InvalidValueError(code) from None
        except UnicodeError:
            raise InvalidValueError(ErrorCode.INVALID) from None
    text = text.lower()
    if len(text) > MAX_HOST_LENGTH:
        raise InvalidValueError(ErrorCode.OUT_OF_RANGE)
    labels = text.split(".")
    if not all(_DNS_LABEL.match(label) for label in labels):
        raise InvalidValueError(ErrorCode.INVALID)
    # "999.1.1.1" has DNS label syntax, but anyone typing it meant an address.
    if all(label.isdigit() for label in labels):
        raise InvalidValueError(ErrorCode.INVALID)
    return text


def _bounded(raw: int | None, low: int, high: int) -> int:
    if raw is None:
        raise InvalidValueError(ErrorCode.REQUIRED)
    if isinstance(raw, bool) or not isinstance(raw, int):
        raise InvalidValueError(ErrorCode.INVALID)
    if not low <= raw <= high:
        raise InvalidValueError(ErrorCode.OUT_OF_RANGE)
    return raw


@dataclass(frozen=True, slots=True)
class Port:
    """A TCP port, MIN_PORT to MAX_PORT."""

    value: int

    @classmethod
    def parse(cls, raw: int | None) -> Port:
        """The port in `raw`, or InvalidValueError."""
        return cls(_bounded(raw, MIN_PORT, MAX_PORT))


@dataclass(frozen=True, slots=True)
class Timeout:
    """A connection timeout in seconds, MIN_TIMEOUT_SECONDS to MAX_TIMEOUT_SECONDS."""

    value: int

    @classmethod
    def parse(cls, raw: int | None) -> Timeout:
        """The timeout in `raw`, or InvalidValueError."""
        return cls(_bounded(raw, MIN_TIMEOUT_SECONDS, MAX_TIMEOUT_SECONDS))
