"""What an administrator asks for. Raw input; `decide` parses and checks it."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Final, Literal, TypeAlias, TypeVar

from domain.state import ServerList
from domain.values import (
    OAuthProvider,
    ReceiveProtocol,
    SmtpAuthMethod,
    SmtpCredentials,
    SmtpEncryption,
)


class _Unset(Enum):
    UNSET = "UNSET"

    def __bool__(self) -> Literal[False]:
        return False


UNSET: Final = _Unset.UNSET
"""A field the client did not send (as opposed to an explicit null)."""

T = TypeVar("T")
Opt: TypeAlias = T | None | Literal[_Unset.UNSET]


@dataclass(frozen=True, slots=True, kw_only=True)
class OutgoingInput:
    """The outgoing (SMTP) settings as sent; UNSET parts keep what the server has."""

    host: Opt[str] = UNSET
    port: Opt[int] = UNSET
    encryption: Opt[SmtpEncryption] = UNSET
    auth_method: Opt[SmtpAuthMethod] = UNSET
    credentials: Opt[SmtpCredentials] = UNSET
    timeout_seconds: Opt[int] = UNSET


@dataclass(frozen=True, slots=True, kw_only=True)
class IncomingInput:
    """The incoming (POP3/IMAP4) settings as sent; UNSET parts keep what the server has."""

    protocol: Opt[ReceiveProtocol] = UNSET
    host: Opt[str] = UNSET
    port: Opt[int] = UNSET
    use_tls: Opt[bool] = UNSET
    use_apop: Opt[bool] = UNSET
    timeout_seconds: Opt[int] = UNSET


@dataclass(frozen=True, slots=True, kw_only=True)
class AddServer:
    """Add a server at the end of the list."""

    server_id: str
    code: str
    name: str
    oauth_provider: OAuthProvider | None
    outgoing: OutgoingInput
    incoming: IncomingInput


@dataclass(frozen=True, slots=True, kw_only=True)
class ChangeServer:
    """Change some of a server's settings, at `expected_version` when given."""

    server_id: str
    expected_version: int | None = None
    code: Opt[str] = UNSET
    name: Opt[str] = UNSET
    oauth_provider: Opt[OAuthProvider] = UNSET
    outgoing: OutgoingInput = field(default_factory=OutgoingInput)
    incoming: IncomingInput = field(default_factory=IncomingInput)


@dataclass(frozen=True, slots=True, kw_only=True)
class ReorderServers:
    """Put the servers in this order, a permutation of the current one."""

    server_ids: tuple[str, ...]
    expected_list_version: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class DeleteServer:
    """Delete one server."""

    server_id: str
    expected_version: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class DeleteAllServers:
    """Delete every server."""

    expected_list_version: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class RestoreServers:
    """Bring the live list back to `target`, the server list as it once was."""

    target: ServerList
    expected_list_version: int | None = None


Command = AddServer | ChangeServer | ReorderServers | DeleteServer | DeleteAllServers | RestoreServers
