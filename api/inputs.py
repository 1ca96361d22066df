"""GraphQL input types. They check shape only; `to_command` hands raw values to the domain."""

from __future__ import annotations

from enum import Enum
from typing import Any

import strawberry
from strawberry.types.base import get_object_definition, has_object_definition
from strawberry.types.unset import UnsetType

from api.limits import PORTS, TIMEOUTS
from domain import commands
from domain.commands import UNSET as NOT_SENT
from domain.values import (
    DEFAULT_TIMEOUT,
    MAX_LABEL_LENGTH,
    OAuthProvider,
    ReceiveProtocol,
    SmtpAuthMethod,
    SmtpCredentials,
    SmtpEncryption,
)

_HOST = "A host name or an IP address; required unless oauthProvider is set (then forbidden)."
_PORT = f"{PORTS}; required unless oauthProvider is set (then forbidden)."
_TIMEOUT = f"{TIMEOUTS}; default {DEFAULT_TIMEOUT}."
_USE_TLS = "Default false; forbidden with OAuth (always true there)."
_USE_APOP = "Default false; only POP3 without OAuth may set it true."
_KEY = "A retried mutation with the same key returns the first result and appends nothing."
_EXPECTED_VERSION = "When given, a stale server version fails with VERSION_CONFLICT."
_EXPECTED_LIST_VERSION = "When given, a stale list version fails with VERSION_CONFLICT."


def _optional_field(description: str) -> Any:
    """An input field the client may leave out (told apart from an explicit null)."""
    return strawberry.field(default=strawberry.UNSET, description=description)


def _raw(value: Any) -> Any:
    """Strawberry's UNSET becomes the domain's."""
    return NOT_SENT if isinstance(value, UnsetType) else value


def _sent(input: object) -> dict[str, Any]:
    """The input's fields by their Python names, as the domain's commands name them too."""
    definition = get_object_definition(input, strict=True)
    return {f.python_name: _raw(getattr(input, f.python_name)) for f in definition.fields}


def fingerprint(value: Any) -> Any:
    """A JSON form of an input that tells an unsent field from an explicit null."""
    if isinstance(value, UnsetType):
        return "<unset>"
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, list):
        return [fingerprint(v) for v in value]
    if has_object_definition(value):
        return {
            f.name: fingerprint(getattr(value, f.name))
            for f in value.__strawberry_definition__.fields
            if f.name != "idempotency_key"
        }
    return value


@strawberry.input(description="The outgoing (SMTP) server of a new mail server.")
class OutgoingServerInput:
    host: str | None = _optional_field(_HOST)
    port: int | None = _optional_field(_PORT)
    encryption: SmtpEncryption | None = _optional_field("Default NONE; forbidden with OAuth.")
    auth_method: SmtpAuthMethod | None = _optional_field("Default NONE; forbidden with OAuth; XOAUTH2 never accepted.")
    credentials: SmtpCredentials | None = _optional_field(
        "Required when authMethod is not NONE; forbidden when it is NONE."
    )
    timeout_seconds: int | None = _optional_field(_TIMEOUT)

    def to_command(self) -> commands.OutgoingInput:
        """The fields as sent, for the domain to check."""
        return commands.OutgoingInput(**_sent(self))


@strawberry.input
class _IncomingFields:
    """The fields both incoming server inputs share; not a GraphQL type of its own."""

    protocol: ReceiveProtocol | None = _optional_field(
        "POP3 or IMAP4; for an OAuth server this re-derives host and port; IMAP4 clears useApop."
    )
    host: str | None = _optional_field(_HOST)
    port: int | None = _optional_field(_PORT)
    use_tls: bool | None = _optional_field(_USE_TLS)
    use_apop: bool | None = _optional_field(_USE_APOP)
    timeout_seconds: int | None = _optional_field(_TIMEOUT)

    def to_command(self) -> commands.IncomingInput:
        """The fields as sent, for the domain to check."""
        return commands.IncomingInput(**_sent(self))


@strawberry.input(description="The incoming (POP3 or IMAP4) server of a new mail server.")
class IncomingServerInput(_IncomingFields):
    """The shared fields, the protocol required (a dataclass keeps an overridden field in its place)."""

    protocol: ReceiveProtocol = strawberry.field(description="POP3 or IMAP4.")


@strawberry.input(description="A new mail server, added at the end of the list.")
class AddMailServerInput:
    code: str = strawberry.field(description=f"Unique among live servers; trimmed; 1..{MAX_LABEL_LENGTH} characters.")
    name: str = strawberry.field(description=f"Trimmed; 1..{MAX_LABEL_LENGTH} characters; may repeat across servers.")
    outgoing: OutgoingServerInput = strawberry.field(description="The outgoing (SMTP) server.")
    incoming: IncomingServerInput = strawberry.field(description="The incoming (POP3 or IMAP4) server.")
    oauth_provider: OAuthProvider | None = _optional_field(
        "null or left out: OAuth not used; otherwise the provider's preset sets hosts, ports and encryption."
    )
    idempotency_key: str | None = _optional_field(_KEY)

    def to_command(self, server_id: str) -> commands.AddServer:
        """The command that adds the server under this new id."""
        provider = _raw(self.oauth_provider)
        return commands.AddServer(
            server_id=server_id,
            code=self.code,
            name=self.name,
            oauth_provider=None if provider is NOT_SENT else provider,
            outgoing=self.outgoing.to_command(),
            incoming=self.incoming.to_command(),
        )


@strawberry.input(description="Changes to the outgoing (SMTP) server: only the fields given change.")
class OutgoingServerChangeInput(OutgoingServerInput):
    """The same fields as when adding; a separate type because the contract names it."""


@strawberry.input(description="Changes to the incoming (POP3 or IMAP4) server: only the fields given change.")
class IncomingServerChangeInput(_IncomingFields):
    """The shared fields, every one optional."""


@strawberry.input(
    description="Partial update: only the fields given change. Changing oauthProvider re-derives the automatic "
    "settings; removing it (explicit null) requires the manual host and port settings in the same input."
)
class ChangeMailServerInput:
    id: strawberry.ID = strawberry.field(description="The server to change.")
    expected_version: int | None = _optional_field(_EXPECTED_VERSION)
    code: str | None = _optional_field("A new code, unique among live servers.")
    name: str | None = _optional_field("A new name.")
    oauth_provider: OAuthProvider | None = _optional_field("A new provider, or null to turn OAuth off.")
    outgoing: OutgoingServerChangeInput | None = _optional_field("Changes to the outgoing (SMTP) server.")
    incoming: IncomingServerChangeInput | None = _optional_field("Changes to the incoming server.")
    idempotency_key: str | None = _optional_field(_KEY)

    def to_command(self) -> commands.ChangeServer:
        """The command that changes the fields given."""
        return commands.ChangeServer(
            server_id=str(self.id),
            expected_version=_optional(self.expected_version),
            code=_raw(self.code),
            name=_raw(self.name),
            oauth_provider=_raw(self.oauth_provider),
            outgoing=self.outgoing.to_command() if self.outgoing else commands.OutgoingInput(),
            incoming=self.incoming.to_command() if self.incoming else commands.IncomingInput(),
        )


def _optional(value: int | None | UnsetType) -> int | None:
    """An optional number the domain takes as None when it was not sent."""
    return None if isinstance(value, UnsetType) else value


@strawberry.input(description="A new order for the whole list.")
class ReorderMailServersInput:
    ids: list[strawberry.ID] = strawberry.field(description="Every live server exactly once, in the new order.")
    expected_list_version: int | None = _optional_field(_EXPECTED_LIST_VERSION)
    idempotency_key: str | None = _optional_field(_KEY)

    def to_command(self) -> commands.ReorderServers:
        """The command that puts the list in this order."""
        return commands.ReorderServers(
            server_ids=tuple(str(i) for i in self.ids), expected_list_version=_optional(self.expected_list_version)
        )


@strawberry.input(description="The server to delete; the list closes the gap.")
class DeleteMailServerInput:
    id: strawberry.ID = strawberry.field(description="The server to delete.")
    expected_version: int | None = _optional_field(_EXPECTED_VERSION)
    idempotency_key: str | None = _optional_field(_KEY)

    def to_command(self) -> commands.DeleteServer:
        """The command that deletes the server."""
        return commands.DeleteServer(server_id=str(self.id), expected_version=_optional(self.expected_version))


@strawberry.input(description="Deletes every live server; on an empty list nothing is appended.")
class DeleteAllMailServersInput:
    expected_list_version: int | None = _optional_field(_EXPECTED_LIST_VERSION)
    idempotency_key: str | None = _optional_field(_KEY)

    def to_command(self) -> commands.DeleteAllServers:
        """The command that deletes every live server."""
        return commands.DeleteAllServers(expected_list_version=_optional(self.expected_list_version))


@strawberry.input(
    description="Brings the live list back to its state just after the event at `asOf` by appending "
    "ordinary events attributed to the caller."
)
class RestoreMailServersInput:
    as_of: str = strawberry.field(description="A position cursor, as events and mailServerEvents give them.")
    expected_list_version: int | None = _optional_field(_EXPECTED_LIST_VERSION)
    idempotency_key: str | None = _optional_field(_KEY)

    def expected(self) -> int | None:
        """The expected list version, None when not sent."""
        return _optional(self.expected_list_version)
