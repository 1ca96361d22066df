"""GraphQL input types. They check shape only; `to_command` hands raw values to the domain."""

from __future__ import annotations

from enum import Enum
from typing import Any

import strawberry
from strawberry.types.unset import UnsetType

from api.types import OAuthProvider, ReceiveProtocol, SmtpAuthMethod, SmtpCredentials, SmtpEncryption
from domain import commands, values
from domain.commands import UNSET as NOT_SENT

_DOMAIN_ENUMS: dict[type[Enum], type[Enum]] = {
    OAuthProvider: values.OAuthProvider,
    SmtpEncryption: values.SmtpEncryption,
    SmtpAuthMethod: values.SmtpAuthMethod,
    SmtpCredentials: values.SmtpCredentials,
    ReceiveProtocol: values.ReceiveProtocol,
}


def _raw(value: Any) -> Any:
    """Strawberry's UNSET becomes the domain's; API enums become domain enums."""
    if isinstance(value, UnsetType):
        return NOT_SENT
    if isinstance(value, Enum) and type(value) in _DOMAIN_ENUMS:
        return _DOMAIN_ENUMS[type(value)](value.value)
    return value


def fingerprint(value: Any) -> Any:
    """A JSON form of an input that tells an unsent field from an explicit null."""
    if isinstance(value, UnsetType):
        return "<unset>"
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, list):
        return [fingerprint(v) for v in value]
    if hasattr(value, "__strawberry_definition__"):
        return {
            f.name: fingerprint(getattr(value, f.name))
            for f in value.__strawberry_definition__.fields
            if f.name != "idempotency_key"
        }
    return value


@strawberry.input
class OutgoingServerInput:
    host: str | None = strawberry.UNSET
    port: int | None = strawberry.UNSET
    encryption: SmtpEncryption | None = strawberry.UNSET
    auth_method: SmtpAuthMethod | None = strawberry.UNSET
    credentials: SmtpCredentials | None = strawberry.UNSET
    timeout_seconds: int | None = strawberry.UNSET

    def to_command(self) -> commands.OutgoingInput:
        return commands.OutgoingInput(
            host=_raw(self.host),
            port=_raw(self.port),
            encryption=_raw(self.encryption),
            auth_method=_raw(self.auth_method),
            credentials=_raw(self.credentials),
            timeout_seconds=_raw(self.timeout_seconds),
        )


@strawberry.input
class IncomingServerInput:
    protocol: ReceiveProtocol
    host: str | None = strawberry.UNSET
    port: int | None = strawberry.UNSET
    use_tls: bool | None = strawberry.UNSET
    use_apop: bool | None = strawberry.UNSET
    timeout_seconds: int | None = strawberry.UNSET

    def to_command(self) -> commands.IncomingInput:
        return commands.IncomingInput(
            protocol=_raw(self.protocol),
            host=_raw(self.host),
            port=_raw(self.port),
            use_tls=_raw(self.use_tls),
            use_apop=_raw(self.use_apop),
            timeout_seconds=_raw(self.timeout_seconds),
        )


@strawberry.input
class AddMailServerInput:
    code: str
    name: str
    outgoing: OutgoingServerInput
    incoming: IncomingServerInput
    oauth_provider: OAuthProvider | None = strawberry.UNSET
    idempotency_key: str | None = strawberry.UNSET

    def to_command(self, server_id: str) -> commands.AddServer:
        provider = _raw(self.oauth_provider)
        return commands.AddServer(
            server_id=server_id,
            code=self.code,
            name=self.name,
            oauth_provider=None if provider is NOT_SENT else provider,
            outgoing=self.outgoing.to_command(),
            incoming=self.incoming.to_command(),
        )


@strawberry.input
class OutgoingServerChangeInput(OutgoingServerInput):
    """The same fields as when adding; a separate type because the contract names it."""


@strawberry.input
class IncomingServerChangeInput:
    protocol: ReceiveProtocol | None = strawberry.UNSET
    host: str | None = strawberry.UNSET
    port: int | None = strawberry.UNSET
    use_tls: bool | None = strawberry.UNSET
    use_apop: bool | None = strawberry.UNSET
    timeout_seconds: int | None = strawberry.UNSET

    def to_command(self) -> commands.IncomingInput:
        return IncomingServerInput.to_command(self)  # type: ignore[arg-type]


@strawberry.input(description="Partial update: only the fields given change.")
class ChangeMailServerInput:
    id: strawberry.ID
    expected_version: int | None = strawberry.UNSET
    code: str | None = strawberry.UNSET
    name: str | None = strawberry.UNSET
    oauth_provider: OAuthProvider | None = strawberry.UNSET
    outgoing: OutgoingServerChangeInput | None = strawberry.UNSET
    incoming: IncomingServerChangeInput | None = strawberry.UNSET
    idempotency_key: str | None = strawberry.UNSET

    def to_command(self) -> commands.ChangeServer:
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
    return None if isinstance(value, UnsetType) else value


@strawberry.input
class ReorderMailServersInput:
    ids: list[strawberry.ID]
    expected_list_version: int | None = strawberry.UNSET
    idempotency_key: str | None = strawberry.UNSET

    def to_command(self) -> commands.ReorderServers:
        return commands.ReorderServers(
            server_ids=tuple(str(i) for i in self.ids), expected_list_version=_optional(self.expected_list_version)
        )


@strawberry.input
class DeleteMailServerInput:
    id: strawberry.ID
    expected_version: int | None = strawberry.UNSET
    idempotency_key: str | None = strawberry.UNSET

    def to_command(self) -> commands.DeleteServer:
        return commands.DeleteServer(server_id=str(self.id), expected_version=_optional(self.expected_version))


@strawberry.input
class DeleteAllMailServersInput:
    expected_list_version: int | None = strawberry.UNSET
    idempotency_key: str | None = strawberry.UNSET

    def to_command(self) -> commands.DeleteAllServers:
        return commands.DeleteAllServers(expected_list_version=_optional(self.expected_list_version))


@strawberry.input(description="Brings the live list back to its state just after the event at `asOf`.")
class RestoreMailServersInput:
    as_of: str
    expected_list_version: int | None = strawberry.UNSET
    idempotency_key: str | None = strawberry.UNSET

    def expected(self) -> int | None:
        return _optional(self.expected_list_version)
