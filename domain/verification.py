"""Checking a server's settings against the real mail servers: what to probe,
finding codes and how their statuses add up. No I/O here; api/verification probes."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from enum import StrEnum

from domain.model import Settings
from domain.values import ReceiveProtocol, SmtpAuthMethod, SmtpCredentials, SmtpEncryption


class VerificationStatus(StrEnum):
    OK = "OK"
    WARNING = "WARNING"
    FAILED = "FAILED"


class FindingCode(StrEnum):
    CONNECTED = "CONNECTED"
    DNS_FAILED = "DNS_FAILED"
    CONNECTION_REFUSED = "CONNECTION_REFUSED"
    TIMEOUT = "TIMEOUT"
    TLS_HANDSHAKE_FAILED = "TLS_HANDSHAKE_FAILED"
    TLS_VERSION_TOO_OLD = "TLS_VERSION_TOO_OLD"
    CERTIFICATE_INVALID = "CERTIFICATE_INVALID"
    STARTTLS_NOT_OFFERED = "STARTTLS_NOT_OFFERED"
    AUTH_METHOD_NOT_OFFERED = "AUTH_METHOD_NOT_OFFERED"
    APOP_NOT_SUPPORTED = "APOP_NOT_SUPPORTED"
    AUTH_FAILED = "AUTH_FAILED"
    AUTH_OK = "AUTH_OK"
    AUTH_NOT_CHECKED = "AUTH_NOT_CHECKED"
    PROTOCOL_ERROR = "PROTOCOL_ERROR"


_RANK = {VerificationStatus.OK: 0, VerificationStatus.WARNING: 1, VerificationStatus.FAILED: 2}

_GOOD = {FindingCode.CONNECTED, FindingCode.AUTH_OK}
_NEEDS_A_LOOK = {FindingCode.AUTH_NOT_CHECKED}


def status_of(code: FindingCode) -> VerificationStatus:
    """What a finding means on its own."""
    if code in _GOOD:
        return VerificationStatus.OK
    if code in _NEEDS_A_LOOK:
        return VerificationStatus.WARNING
    return VerificationStatus.FAILED


def worst(statuses: Iterable[VerificationStatus]) -> VerificationStatus:
    """The worst of the statuses; OK when there are none."""
    return max(statuses, key=_RANK.__getitem__, default=VerificationStatus.OK)


class NotChecked(StrEnum):
    """Why signing in was not checked."""

    NO_CREDENTIALS = "NO_CREDENTIALS"
    OAUTH = "OAUTH"
    UNSUPPORTED_METHOD = "UNSUPPORTED_METHOD"


@dataclass(frozen=True, slots=True, kw_only=True)
class Finding:
    """One thing a probe found. `params` fill in the message (e.g. a TLS version or
    the server's own words); they never hold credentials."""

    code: FindingCode
    params: tuple[tuple[str, str], ...] = ()

    @property
    def status(self) -> VerificationStatus:
        """What this finding means on its own."""
        return status_of(self.code)

    def param(self, name: str) -> str | None:
        """The named param, or None."""
        return next((value for key, value in self.params if key == name), None)


@dataclass(frozen=True, slots=True, kw_only=True)
class EndpointReport:
    """What the check of one direction found."""

    host: str
    port: int
    tls_version: str | None
    capabilities: tuple[str, ...]
    findings: tuple[Finding, ...]
    elapsed_ms: int

    @property
    def status(self) -> VerificationStatus:
        """The worst of its findings."""
        return worst(f.status for f in self.findings)


@dataclass(frozen=True, slots=True, kw_only=True)
class Report:
    outgoing: EndpointReport
    incoming: EndpointReport

    @property
    def status(self) -> VerificationStatus:
        """The worse of the two directions."""
        return worst((self.outgoing.status, self.incoming.status))


@dataclass(frozen=True, slots=True, kw_only=True)
class Account:
    """A user name and password used for one check only."""

    username: str
    password: str = field(repr=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class Credentials:
    """What an administrator types in to check signing in; never kept."""

    username: str
    password: str = field(repr=False)
    sending_username: str | None = None
    sending_password: str | None = field(default=None, repr=False)

    def secrets(self) -> tuple[str, ...]:
        """What must never be echoed: the passwords, and the user names unless
        too short to blank out without garbling everything else."""
        names = (self.username, self.sending_username)
        return (
            *(s for s in (self.password, self.sending_password) if s),
            *(n for n in names if n is not None and len(n) >= MIN_SCRUBBED_NAME),
        )


MIN_SCRUBBED_NAME = 3


class Security(StrEnum):
    NONE = "NONE"
    IMPLICIT_TLS = "IMPLICIT_TLS"
    STARTTLS = "STARTTLS"


# The names servers use in EHLO's AUTH list.
SASL_NAMES = {
    SmtpAuthMethod.PLAIN: "PLAIN",
    SmtpAuthMethod.LOGIN: "LOGIN",
    SmtpAuthMethod.CRAM_MD5: "CRAM-MD5",
    SmtpAuthMethod.DIGEST_MD5: "DIGEST-MD5",
    SmtpAuthMethod.XOAUTH2: "XOAUTH2",
}
# Methods mailreg can sign in with; the others are only looked for in EHLO.
SIGN_IN_METHODS = frozenset({SmtpAuthMethod.PLAIN, SmtpAuthMethod.LOGIN, SmtpAuthMethod.CRAM_MD5})


@dataclass(frozen=True, slots=True, kw_only=True)
class SmtpProbe:
    """How to check the outgoing server: `mechanism` is the SASL name to look
    for in EHLO (None: no authentication configured); sign in with `account`
    when it is set, else say why not in `not_checked`."""

    host: str
    port: int
    security: Security
    timeout_seconds: int
    auth_method: SmtpAuthMethod
    mechanism: str | None
    account: Account | None = None
    not_checked: NotChecked | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class MailboxProbe:
    """How to check the incoming server (POP3 or IMAP4)."""

    protocol: ReceiveProtocol
    host: str
    port: int
    use_tls: bool
    use_apop: bool
    timeout_seconds: int
    account: Account | None = None
    not_checked: NotChecked | None = None


def plan(settings: Settings, credentials: Credentials | None) -> tuple[SmtpProbe, MailboxProbe]:
    """What must be probed for these settings, and with which account."""
    out, inc = settings.outgoing, settings.incoming
    oauth = settings.oauth_provider is not None
    security = {
        SmtpEncryption.NONE: Security.NONE,
        SmtpEncryption.TLS: Security.IMPLICIT_TLS,
        SmtpEncryption.STARTTLS: Security.STARTTLS,
    }[out.encryption]
    smtp = SmtpProbe(
        host=out.host,
        port=out.port,
        security=security,
        timeout_seconds=out.timeout_seconds,
        auth_method=out.auth_method,
        mechanism=SASL_NAMES.get(out.auth_method),
    )
    if oauth:
        smtp = replace(smtp, not_checked=NotChecked.OAUTH)
    elif out.auth_method is SmtpAuthMethod.NONE:
        pass  # nothing to sign in with, so nothing left unchecked
    elif credentials is None:
        smtp = replace(smtp, not_checked=NotChecked.NO_CREDENTIALS)
    elif out.auth_method not in SIGN_IN_METHODS:
        smtp = replace(smtp, not_checked=NotChecked.UNSUPPORTED_METHOD)
    else:
        smtp = replace(smtp, account=_sending_account(out.credentials, credentials))

    mailbox = MailboxProbe(
        protocol=inc.protocol,
        host=inc.host,
        port=inc.port,
        use_tls=inc.use_tls,
        use_apop=inc.use_apop and inc.protocol is ReceiveProtocol.POP3,
        timeout_seconds=inc.timeout_seconds,
    )
    if oauth:
        mailbox = replace(mailbox, not_checked=NotChecked.OAUTH)
    elif credentials is None:
        mailbox = replace(mailbox, not_checked=NotChecked.NO_CREDENTIALS)
    else:
        mailbox = replace(mailbox, account=Account(username=credentials.username, password=credentials.password))
    return smtp, mailbox


def _sending_account(which: SmtpCredentials | None, credentials: Credentials) -> Account:
    if which is SmtpCredentials.SENDING_ACCOUNT:
        return Account(
            username=credentials.sending_username or credentials.username,
            password=credentials.sending_password or credentials.password,
        )
    return Account(username=credentials.username, password=credentials.password)
