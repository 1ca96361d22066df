"""The list as it was, built for the API straight from a payload fold's records.

MailServerList.from_domain wants domain servers, and building a thousand of
them (and then their API objects) for every point-in-time view costs more than
folding does; the records already hold the API's values."""

from __future__ import annotations

from enum import Enum
from typing import Any

import strawberry

from api.types import IncomingServer, MailServer, MailServerList, OutgoingServer
from domain.values import OAuthProvider, ReceiveProtocol, SmtpAuthMethod, SmtpCredentials, SmtpEncryption
from events.payload_fold import PayloadFold, Record


def _members(enum: type[Enum]) -> dict[Any, Any]:
    return {None: None, **{member.value: member for member in enum}}


_OAUTH = _members(OAuthProvider)
_ENCRYPTION = _members(SmtpEncryption)
_AUTH = _members(SmtpAuthMethod)
_CREDENTIALS = _members(SmtpCredentials)
_PROTOCOL = _members(ReceiveProtocol)


class _Listed(MailServer):
    """A MailServer whose nested parts are built only when a selection reads them:
    a list as it was is a thousand servers, and most views ask for a few fields."""

    def __init__(self, server_id: str, record: Record, position: int) -> None:  # noqa: D107
        # Not the dataclass __init__: the parts it would build are made in __getattr__.
        self.id = strawberry.ID(server_id)
        self.version, self.created_at, self.updated_at, self._values = record
        self.code, self.name = self._values[0], self._values[1]
        self.position = position

    def __getattr__(self, name: str) -> Any:
        values = self.__dict__["_values"]
        value: Any
        if name == "oauth_provider":
            value = _OAUTH[values[2]]
        elif name == "outgoing":
            host, port, encryption, auth, credentials, timeout = values[3:9]
            value = OutgoingServer(
                host=host,
                port=port,
                encryption=_ENCRYPTION[encryption],
                auth_method=_AUTH[auth],
                credentials=_CREDENTIALS[credentials],
                timeout_seconds=timeout,
            )
        elif name == "incoming":
            protocol, host, port, tls, apop, timeout = values[9:15]
            value = IncomingServer(
                protocol=_PROTOCOL[protocol],
                host=host,
                port=port,
                use_tls=bool(tls),
                use_apop=bool(apop),
                timeout_seconds=timeout,
            )
        else:
            raise AttributeError(name)
        self.__dict__[name] = value
        return value


def listed(fold: PayloadFold) -> MailServerList:
    """The API list of the fold's servers, in order."""
    items: list[MailServer] = [
        _Listed(server_id, record, n) for n, (server_id, record) in enumerate(fold.records(), start=1)
    ]
    return MailServerList(version=fold.list_version, total_count=len(items), items=items)
