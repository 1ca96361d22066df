"""The mail server as mailreg keeps it, and the OAuth presets."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from operator import attrgetter
from typing import get_args, get_type_hints

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
    """How a server sends mail (SMTP)."""

    host: str
    port: int
    encryption: SmtpEncryption = SmtpEncryption.NONE
    auth_method: SmtpAuthMethod = SmtpAuthMethod.NONE
    credentials: SmtpCredentials | None = None
    timeout_seconds: int = DEFAULT_TIMEOUT


@dataclass(frozen=True, slots=True, kw_only=True)
class Incoming:
    """How a server receives mail (POP3 or IMAP4)."""

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
    """A live server: its settings, its stream version and its times."""

    id: str
    settings: Settings
    version: int
    created_at: datetime
    updated_at: datetime

    @property
    def code(self) -> str:
        """The server's unique code."""
        return self.settings.code

    @property
    def name(self) -> str:
        """The server's display name."""
        return self.settings.name


@dataclass(frozen=True, slots=True, kw_only=True)
class Preset:
    """The endpoints an OAuth provider fixes."""

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


@dataclass(frozen=True, slots=True)
class SettingField:
    """One leaf of Settings: its attribute path, its dotted API name and the type of its value."""

    path: tuple[str, ...]
    name: str
    kind: type
    optional: bool

    def read(self, settings: Settings) -> object:
        """This field's value in `settings`, as the domain holds it."""
        value: object = settings
        for attribute in self.path:
            value = getattr(value, attribute)
        return value

    def to_scalar(self, value: object) -> Scalar:
        """The API-shaped value: enums by name."""
        if isinstance(value, StrEnum):
            return value.value
        assert value is None or isinstance(value, str | int)
        return value

    def from_scalar(self, value: Scalar) -> object:
        """The domain value of an API-shaped one; TypeError when it has the wrong type."""
        if value is None and self.optional:
            return None
        if issubclass(self.kind, StrEnum):
            return self.kind(str(value))
        if self.kind is bool:
            return bool(value)
        if self.kind is int and (not isinstance(value, int) or isinstance(value, bool)):
            raise TypeError(f"{self.name} must be an integer")
        if self.kind is str and not isinstance(value, str):
            raise TypeError(f"{self.name} must be a string")
        return value


def _camel(attribute: str) -> str:
    head, *rest = attribute.split("_")
    return head + "".join(word.capitalize() for word in rest)


def _leaves(cls: type, path: tuple[str, ...]) -> list[SettingField]:
    leaves: list[SettingField] = []
    hints = get_type_hints(cls)
    for field in dataclasses.fields(cls):
        kind, where = hints[field.name], (*path, field.name)
        if dataclasses.is_dataclass(kind):
            leaves.extend(_leaves(kind, where))  # type: ignore[arg-type]
            continue
        kinds = [k for k in get_args(kind) if k is not type(None)] or [kind]
        name = ".".join(_camel(part) for part in where)
        leaves.append(SettingField(path=where, name=name, kind=kinds[0], optional=len(kinds) < len(get_args(kind))))
    return leaves


SETTING_FIELDS: tuple[SettingField, ...] = tuple(_leaves(Settings, ()))
"""Every leaf of Settings in declaration order, which is the API's order."""
_BY_NAME = {field.name: field for field in SETTING_FIELDS}
# Resolved once: typing.get_type_hints is far too slow to call per request.
_PART_TYPES: dict[str, type] = {
    name: kind
    for name, kind in get_type_hints(Settings).items()
    if isinstance(kind, type) and dataclasses.is_dataclass(kind)
}


# Every leaf's value in one call: the write path reads them several times per command.
_LEAF_VALUES = attrgetter(*(".".join(field.path) for field in SETTING_FIELDS))
_NAMES = tuple(field.name for field in SETTING_FIELDS)


def _scalar(value: object) -> Scalar:
    return value.value if isinstance(value, StrEnum) else value  # type: ignore[return-value]


def fields(settings: Settings) -> dict[str, Scalar]:
    """Settings as dotted API field names and API-shaped values (enums by name)."""
    return dict(zip(_NAMES, scalars(settings), strict=True))


def scalars(settings: Settings) -> tuple[Scalar, ...]:
    """The API-shaped values of `fields`, in SETTING_FIELDS order."""
    return tuple([value.value if isinstance(value, StrEnum) else value for value in _LEAF_VALUES(settings)])


def _assemble(values: dict[tuple[str, ...], object], base: Settings | None = None) -> Settings:
    """Settings from leaf values by attribute path, over `base` when given."""
    top: dict[str, object] = {}
    parts: dict[str, dict[str, object]] = {}
    for path, value in values.items():
        if len(path) == 1:
            top[path[0]] = value
        else:
            parts.setdefault(path[0], {})[path[1]] = value
    for part, leaves in parts.items():
        top[part] = replace(getattr(base, part), **leaves) if base is not None else _PART_TYPES[part](**leaves)
    return replace(base, **top) if base is not None else Settings(**top)  # type: ignore[arg-type]


def from_fields(values: dict[str, Scalar]) -> Settings:
    """The inverse of `fields`."""
    return _assemble({field.path: field.from_scalar(values[field.name]) for field in SETTING_FIELDS})


def diff(before: Settings, after: Settings) -> tuple[tuple[str, Scalar, Scalar], ...]:
    """The fields whose values differ, in API order, as (field, before, after)."""
    old, new = _LEAF_VALUES(before), _LEAF_VALUES(after)
    if old == new:
        return ()
    return tuple(
        (name, _scalar(was), _scalar(now)) for name, was, now in zip(_NAMES, old, new, strict=True) if was != now
    )


def apply_changes(settings: Settings, changes: tuple[tuple[str, Scalar, Scalar], ...]) -> Settings:
    """Settings with the API-named changes applied. Folds run this for every
    ServerChanged, so it touches only the parts that change."""
    values = {_BY_NAME[key].path: _BY_NAME[key].from_scalar(after) for key, _before, after in changes}
    return _assemble(values, settings)
