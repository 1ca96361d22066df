"""The fold of stored payloads straight into JSON-shaped server records.

domain.state.Fold builds frozen dataclasses for every event, which is what
makes replaying a long log slow. This fold keeps each server as its API
field names and values, updates them in place, and builds domain objects
only when asked for a ServerList, and then only for servers that changed since
the last time. It reads the same payloads through the same upcasters and
yields the same list (tests/integration/snapshot_cases.py compares them)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Any

import orjson

from domain.model import SETTING_FIELDS, Incoming, Outgoing, Server, Settings, fields
from domain.state import ServerList
from domain.values import OAuthProvider, ReceiveProtocol, SmtpAuthMethod, SmtpCredentials, SmtpEncryption
from events.serialization import JsonDict, UnreadablePayloadError, settings_from_json, upcast

# A server: [version, created_at, updated_at, [its values in FIELD_NAMES order]].
Record = list[Any]
FORMAT = 2
FIELD_NAMES: tuple[str, ...] = (
    "code",
    "name",
    "oauthProvider",
    "outgoing.host",
    "outgoing.port",
    "outgoing.encryption",
    "outgoing.authMethod",
    "outgoing.credentials",
    "outgoing.timeoutSeconds",
    "incoming.protocol",
    "incoming.host",
    "incoming.port",
    "incoming.useTls",
    "incoming.useApop",
    "incoming.timeoutSeconds",
)
# settings_of unpacks values in this order: it must be the domain's.
assert FIELD_NAMES == tuple(field.name for field in SETTING_FIELDS), "FIELD_NAMES is out of step with the domain"
FIELD_INDEX = {name: index for index, name in enumerate(FIELD_NAMES)}
_SETTINGS: dict[tuple[Any, ...], Settings] = {}
_SETTINGS_KEPT = 50_000


def _members(enum: type[StrEnum], optional: bool = False) -> dict[Any, Any]:
    members: dict[Any, Any] = {member.value: member for member in enum}
    if optional:
        members[None] = None
    return members


# A stored value -> its domain enum member, per enum field; shared with the API's point-in-time lists.
OAUTH_MEMBERS = _members(OAuthProvider, optional=True)
ENCRYPTION_MEMBERS = _members(SmtpEncryption)
AUTH_MEMBERS = _members(SmtpAuthMethod)
CREDENTIALS_MEMBERS = _members(SmtpCredentials, optional=True)
PROTOCOL_MEMBERS = _members(ReceiveProtocol)
# Where each direction's values stand in a record's values.
OUTGOING_VALUES = slice(FIELD_INDEX["outgoing.host"], FIELD_INDEX["outgoing.timeoutSeconds"] + 1)
INCOMING_VALUES = slice(FIELD_INDEX["incoming.protocol"], FIELD_INDEX["incoming.timeoutSeconds"] + 1)


def settings_of(values: list[Any]) -> Settings:
    """The domain settings of these values, as from_fields would make them,
    without its per-field checks: every value here was checked by the domain
    before it was stored. Equal values share one (immutable) Settings."""
    key = tuple(values)
    settings = _SETTINGS.get(key)
    if settings is not None:
        return settings
    if len(_SETTINGS) >= _SETTINGS_KEPT:
        _SETTINGS.clear()
    code, name, oauth = key[: OUTGOING_VALUES.start]
    o_host, o_port, o_enc, o_auth, o_cred, o_timeout = key[OUTGOING_VALUES]
    i_protocol, i_host, i_port, tls, apop, i_timeout = key[INCOMING_VALUES]
    try:
        settings = Settings(
            code=code,
            name=name,
            oauth_provider=OAUTH_MEMBERS[oauth],
            outgoing=Outgoing(
                host=o_host,
                port=o_port,
                encryption=ENCRYPTION_MEMBERS[o_enc],
                auth_method=AUTH_MEMBERS[o_auth],
                credentials=CREDENTIALS_MEMBERS[o_cred],
                timeout_seconds=o_timeout,
            ),
            incoming=Incoming(
                protocol=PROTOCOL_MEMBERS[i_protocol],
                host=i_host,
                port=i_port,
                use_tls=bool(tls),
                use_apop=bool(apop),
                timeout_seconds=i_timeout,
            ),
        )
    except (KeyError, TypeError) as error:
        raise ValueError(f"not a valid server: {error}") from error
    _SETTINGS[key] = settings
    return settings


def _well_formed(values: Any) -> bool:
    """The shape and enum values of a record's values (the checksum vouches for the rest)."""
    return (
        isinstance(values, list)
        and len(values) == len(FIELD_NAMES)
        and values[FIELD_INDEX["oauthProvider"]] in OAUTH_MEMBERS
        and values[FIELD_INDEX["outgoing.encryption"]] in ENCRYPTION_MEMBERS
        and values[FIELD_INDEX["outgoing.authMethod"]] in AUTH_MEMBERS
        and values[FIELD_INDEX["outgoing.credentials"]] in CREDENTIALS_MEMBERS
        and values[FIELD_INDEX["incoming.protocol"]] in PROTOCOL_MEMBERS
    )


class PayloadFold:
    """The list folded from stored events (type, schema version, payload, stream version, time)."""

    def __init__(self, servers: dict[str, Record] | None = None, order: list[str] | None = None, list_version: int = 0):
        self.servers: dict[str, Record] = servers if servers is not None else {}
        self.order: list[str] = order if order is not None else []
        self.list_version = list_version
        # Records this fold may change in place (the others may be shared with a copy).
        self._owned: set[str] = set(self.servers)
        self._built: dict[str, tuple[Record, int, Server]] = {}

    def copy(self) -> PayloadFold:
        """An independent fold from the same state; records are copied only when changed."""
        twin = PayloadFold(dict(self.servers), list(self.order), self.list_version)
        # The records are shared now: neither side may change them in place.
        self._owned = set()
        twin._owned = set()
        twin._built = dict(self._built)
        return twin

    def apply(
        self, type_name: str, schema_version: int, data: JsonDict, stream_version: int, occurred_at: datetime
    ) -> None:
        """Fold one stored event; raises UnreadablePayloadError for one this code cannot read."""
        data = upcast(type_name, schema_version, data)
        try:
            if type_name == "ServerChanged":
                server_id = data["id"]
                record = self._own(server_id)
                values, index = record[3], FIELD_INDEX
                for change in data["changes"]:
                    values[index[change["field"]]] = change["after"]
                record[0] = stream_version
                record[2] = occurred_at
                return
            self._apply_to_list(type_name, data, stream_version, occurred_at)
        except (KeyError, TypeError, ValueError) as error:
            raise UnreadablePayloadError(f"{type_name} v{schema_version}: {error}") from error
        self.list_version += 1

    def _apply_to_list(self, type_name: str, data: JsonDict, stream_version: int, occurred_at: datetime) -> None:
        if type_name == "ServerAdded":
            server_id = data["id"]
            body = {k: v for k, v in data.items() if k not in ("id", "createdAt", "position")}
            created = data.get("createdAt")
            # Through the domain once per server, so values are the canonical ones.
            named = fields(settings_from_json(body))
            values = [named[name] for name in FIELD_NAMES]
            created_at = datetime.fromisoformat(created) if created else occurred_at
            self.servers[server_id] = [stream_version, created_at, occurred_at, values]
            self._owned.add(server_id)
            self.order.append(server_id)
        elif type_name == "ServersReordered":
            self.order = [str(i) for i in data["after"]]
        elif type_name == "ServerDeleted":
            server_id = data["id"]
            del self.servers[server_id]
            self.order.remove(server_id)
        elif type_name == "AllServersDeleted":
            self.servers.clear()
            self.order.clear()
        else:
            raise UnreadablePayloadError(type_name)

    def _own(self, server_id: str) -> Record:
        record = self.servers[server_id]
        if server_id not in self._owned:
            record = [record[0], record[1], record[2], list(record[3])]
            self.servers[server_id] = record
            self._owned.add(server_id)
        return record

    def records(self) -> list[tuple[str, Record]]:
        """(id, record) of the live servers in list order; records must not be changed."""
        servers = self.servers
        return [(server_id, servers[server_id]) for server_id in self.order]

    def server_list(self) -> ServerList:
        """The list as domain objects; servers unchanged since the last call are reused."""
        built = self._built
        servers: dict[str, Server] = {}
        for server_id, record in self.servers.items():
            known = built.get(server_id)
            if known is not None and known[0] is record and known[1] == record[0]:
                servers[server_id] = known[2]
                continue
            server = Server(
                id=server_id,
                settings=settings_of(record[3]),
                version=record[0],
                created_at=record[1],
                updated_at=record[2],
            )
            built[server_id] = (record, record[0], server)
            servers[server_id] = server
        return ServerList(servers=MappingProxyType(servers), order=tuple(self.order), list_version=self.list_version)

    def encode(self) -> bytes:
        """The list as canonical JSON: the same list always gives the same bytes.
        Each server is [id, version, createdAt, updatedAt, [values in FIELD_NAMES order]], in list order."""
        servers = self.servers
        body = {
            "format": FORMAT,
            "listVersion": self.list_version,
            "servers": [[i, *servers[i]] for i in self.order],
        }
        return orjson.dumps(body)

    @classmethod
    def decode(cls, payload: bytes) -> PayloadFold:
        """The inverse of encode; raises ValueError for anything else."""
        try:
            value = orjson.loads(payload)
            if value.get("format") != FORMAT:
                raise ValueError(f"unknown snapshot format {value.get('format')!r}")
            order: list[str] = []
            servers: dict[str, Record] = {}
            for server_id, version, created, updated, values in value["servers"]:
                if not isinstance(server_id, str) or not isinstance(version, int) or not _well_formed(values):
                    raise ValueError(f"server {server_id!r}: malformed")
                order.append(server_id)
                servers[server_id] = [version, datetime.fromisoformat(created), datetime.fromisoformat(updated), values]
            if len(order) != len(servers):
                raise ValueError("a server is listed twice")
            return cls(servers, order, int(value["listVersion"]))
        except (KeyError, TypeError, AttributeError, orjson.JSONDecodeError) as error:
            raise ValueError(f"malformed snapshot: {error}") from error
