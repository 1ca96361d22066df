"""The mail server as mailreg keeps it, and the OAuth presets."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from domain.values import (
    DEFAULT_TIMEOUT,
    OAuthProvider,
    ReceiveProtocol,
    SmtpAuthMethod,
    SmtpCredentials,
    SmtpEncryption,
)

Scalar = str | int | bool | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Outgoing:
    host: str
    port: int
    encryption: SmtpEncryption = SmtpEncryption.NONE
    auth_method: SmtpAuthMethod = SmtpAuthMethod.NONE
    credentials: SmtpCredentials | None = None
    timeout_seconds: int = DEFAULT_TIMEOUT


@dataclass(frozen=True, slots=True, kw_only=True)
class Incoming:
    protocol: ReceiveProtocol
    host: str
    port: int
    use_tls: bool = False
    use_apop: bool = False
    timeout_seconds: int = DEFAULT_TIMEOUT


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    """Everything an administrator sets on one server."""

    code: str
    name: str
    oauth_provider: OAuthProvider | None
    outgoing: Outgoing
    incoming: Incoming


@dataclass(frozen=True, slots=True, kw_only=True)
class Server:
    id: str
    settings: Settings
    version: int
    created_at: datetime
    updated_at: datetime

    @property
    def code(self) -> str:
        return self.settings.code

    @property
    def name(self) -> str:
        return self.settings.name


@dataclass(frozen=True, slots=True, kw_only=True)
class Preset:
    outgoing_host: str
    outgoing_port: int
    encryption: SmtpEncryption
    pop3: tuple[str, int]
    imap4: tuple[str, int]


PRESETS: dict[OAuthProvider, Preset] = {
    OAuthProvider.GOOGLE: Preset(
        outgoing_host="smtp.gmail.com",
        outgoing_port=465,
        encryption=SmtpEncryption.TLS,
        pop3=("pop.gmail.com", 995),
        imap4=("imap.gmail.com", 993),
    ),
    OAuthProvider.MICROSOFT: Preset(
        outgoing_host="smtp.office365.com",
        outgoing_port=587,
        encryption=SmtpEncryption.STARTTLS,
        pop3=("outlook.office365.com", 995),
        imap4=("outlook.office365.com", 993),
    ),
}


def oauth_servers(
    provider: OAuthProvider, protocol: ReceiveProtocol, outgoing_timeout: int, incoming_timeout: int
) -> tuple[Outgoing, Incoming]:
    """The outgoing and incoming settings an OAuth provider fixes."""
    preset = PRESETS[provider]
    host, port = preset.pop3 if protocol is ReceiveProtocol.POP3 else preset.imap4
    outgoing = Outgoing(
        host=preset.outgoing_host,
        port=preset.outgoing_port,
        encryption=preset.encryption,
        auth_method=SmtpAuthMethod.XOAUTH2,
        credentials=None,
        timeout_seconds=outgoing_timeout,
    )
    incoming = Incoming(
        protocol=protocol,
        host=host,
        port=port,
        use_tls=True,
        use_apop=False,
        timeout_seconds=incoming_timeout,
    )
    return outgoing, incoming


def fields(settings: Settings) -> dict[str, Scalar]:
    """Settings as dotted API field names and API-shaped values (enums by name)."""
    outgoing, incoming = settings.outgoing, settings.incoming
    return {
        "code": settings.code,
        "name": settings.name,
        "oauthProvider": _name(settings.oauth_provider),
        "outgoing.host": outgoing.host,
        "outgoing.port": outgoing.port,
        "outgoing.encryption": outgoing.encryption.value,
        "outgoing.authMethod": outgoing.auth_method.value,
        "outgoing.credentials": _name(outgoing.credentials),
        "outgoing.timeoutSeconds": outgoing.timeout_seconds,
        "incoming.protocol": incoming.protocol.value,
        "incoming.host": incoming.host,
        "incoming.port": incoming.port,
        "incoming.useTls": incoming.use_tls,
        "incoming.useApop": incoming.use_apop,
        "incoming.timeoutSeconds": incoming.timeout_seconds,
    }


def _name(value: OAuthProvider | SmtpCredentials | None) -> str | None:
    return None if value is None else value.value


def from_fields(values: dict[str, Scalar]) -> Settings:
    """The inverse of `fields`."""

    def text(key: str) -> str:
        value = values[key]
        if not isinstance(value, str):
            raise TypeError(f"{key} must be a string")
        return value

    def number(key: str) -> int:
        value = values[key]
        if not isinstance(value, int) or isinstance(value, bool):
            raise TypeError(f"{key} must be an integer")
        return value

    def name(key: str) -> str:
        return str(values[key])

    provider = values["oauthProvider"]
    credentials = values["outgoing.credentials"]
    return Settings(
        code=text("code"),
        name=text("name"),
        oauth_provider=None if provider is None else OAuthProvider(str(provider)),
        outgoing=Outgoing(
            host=text("outgoing.host"),
            port=number("outgoing.port"),
            encryption=SmtpEncryption(name("outgoing.encryption")),
            auth_method=SmtpAuthMethod(name("outgoing.authMethod")),
            credentials=None if credentials is None else SmtpCredentials(str(credentials)),
            timeout_seconds=number("outgoing.timeoutSeconds"),
        ),
        incoming=Incoming(
            protocol=ReceiveProtocol(name("incoming.protocol")),
            host=text("incoming.host"),
            port=number("incoming.port"),
            use_tls=bool(values["incoming.useTls"]),
            use_apop=bool(values["incoming.useApop"]),
            timeout_seconds=number("incoming.timeoutSeconds"),
        ),
    )


def diff(before: Settings, after: Settings) -> tuple[tuple[str, Scalar, Scalar], ...]:
    """The fields whose values differ, in API order, as (field, before, after)."""
    old, new = fields(before), fields(after)
    return tuple((key, old[key], new[key]) for key in old if old[key] != new[key])


_ENUMS: dict[str, type[StrEnum]] = {
    "oauthProvider": OAuthProvider,
    "outgoing.encryption": SmtpEncryption,
    "outgoing.authMethod": SmtpAuthMethod,
    "outgoing.credentials": SmtpCredentials,
    "incoming.protocol": ReceiveProtocol,
}
_ATTRIBUTES = {
    "oauthProvider": "oauth_provider",
    "authMethod": "auth_method",
    "timeoutSeconds": "timeout_seconds",
    "useTls": "use_tls",
    "useApop": "use_apop",
}


def apply_changes(settings: Settings, changes: tuple[tuple[str, Scalar, Scalar], ...]) -> Settings:
    """Settings with the API-named changes applied. Replays run this for every
    ServerChanged, so it touches only the parts that change."""
    top: dict[str, object] = {}
    parts: dict[str, dict[str, object]] = {}
    for key, _before, after in changes:
        enum = _ENUMS.get(key)
        value = enum(str(after)) if enum is not None and after is not None else after
        head, _, tail = key.partition(".")
        if tail:
            parts.setdefault(head, {})[_ATTRIBUTES.get(tail, tail)] = value
        else:
            top[_ATTRIBUTES.get(head, head)] = value
    for part, values in parts.items():
        top[part] = replace(getattr(settings, part), **values)
    return replace(settings, **top)  # type: ignore[arg-type]
