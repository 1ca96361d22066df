"""The list as it was, built for the API straight from a payload fold's records.

MailServerList.from_domain wants domain servers, and building a thousand of
them (and then their API objects) for every point-in-time view costs more than
folding does; the records already hold the API's values."""

from __future__ import annotations

from typing import Any

import strawberry

from api.types import IncomingServer, MailServer, MailServerList, OutgoingServer
from events.payload_fold import (
    AUTH_MEMBERS,
    CREDENTIALS_MEMBERS,
    ENCRYPTION_MEMBERS,
    FIELD_INDEX,
    INCOMING_VALUES,
    OAUTH_MEMBERS,
    OUTGOING_VALUES,
    PROTOCOL_MEMBERS,
    PayloadFold,
    Record,
)


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
            value = OAUTH_MEMBERS[values[FIELD_INDEX["oauthProvider"]]]
        elif name == "outgoing":
            host, port, encryption, auth, credentials, timeout = values[OUTGOING_VALUES]
            value = OutgoingServer(
                host=host,
                port=port,
                encryption=ENCRYPTION_MEMBERS[encryption],
                auth_method=AUTH_MEMBERS[auth],
                credentials=CREDENTIALS_MEMBERS[credentials],
                timeout_seconds=timeout,
            )
        elif name == "incoming":
            protocol, host, port, tls, apop, timeout = values[INCOMING_VALUES]
            value = IncomingServer(
                protocol=PROTOCOL_MEMBERS[protocol],
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
