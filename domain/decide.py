"""decide(command, state) -> events: every rule that depends on input or state."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any, Protocol, TypeVar, assert_never

from domain.commands import (
    UNSET,
    AddServer,
    ChangeServer,
    Command,
    DeleteAllServers,
    DeleteServer,
    IncomingInput,
    OutgoingInput,
    ReorderServers,
    RestoreServers,
)
from domain.errors import (
    ErrorCode,
    InvalidValueError,
    OrderMismatchError,
    Path,
    Problem,
    ServerNotFoundError,
    ValidationError,
    VersionConflictError,
)
from domain.events import (
    AllServersDeleted,
    Event,
    FieldChange,
    ServerAdded,
    ServerChanged,
    ServerDeleted,
    ServersReordered,
)
from domain.model import Incoming, Outgoing, Settings, diff, oauth_servers
from domain.state import ServerList
from domain.values import (
    DEFAULT_TIMEOUT,
    HostName,
    OAuthProvider,
    Port,
    ReceiveProtocol,
    ServerCode,
    ServerName,
    SmtpAuthMethod,
    SmtpEncryption,
    Timeout,
)

T = TypeVar("T")


class _Parsed(Protocol[T]):  # type: ignore[misc]
    @property
    def value(self) -> T: ...


class _Problems:
    """Collects every problem of one command so that all are reported at once."""

    def __init__(self) -> None:
        self.items: list[Problem] = []

    def add(self, path: Path, code: ErrorCode) -> None:
        self.items.append(Problem(path, code))

    def parse(self, path: Path, parser: Callable[[Any], _Parsed[T]], raw: object) -> T | None:
        try:
            return parser(raw).value
        except InvalidValueError as error:
            self.add(path, error.code)
            return None

    def raise_any(self) -> None:
        if self.items:
            raise ValidationError(*self.items)


def decide(command: Command, state: ServerList) -> tuple[Event, ...]:
    """The events `command` produces on `state`: none for a no-op, else one
    (a restore may need several). Raises a MailServerError when a rule fails."""
    match command:
        case AddServer():
            return _add(command, state)
        case ChangeServer():
            return _change(command, state)
        case ReorderServers():
            return _reorder(command, state)
        case DeleteServer():
            return _delete(command, state)
        case DeleteAllServers():
            return _delete_all(command, state)
        case RestoreServers():
            return _restore(command, state)
        case _:
            assert_never(command)


def _add(command: AddServer, state: ServerList) -> tuple[Event, ...]:
    problems = _Problems()
    code = problems.parse(("code",), ServerCode.parse, command.code)
    name = problems.parse(("name",), ServerName.parse, command.name)
    endpoints = _endpoints(problems, command.oauth_provider, command.outgoing, command.incoming, None)
    if code is not None and state.holder_of(code) is not None:
        problems.add(("code",), ErrorCode.CODE_ALREADY_EXISTS)
    problems.raise_any()
    assert code is not None and name is not None and endpoints is not None
    settings = Settings(
        code=code,
        name=name,
        oauth_provider=command.oauth_provider,
        outgoing=endpoints[0],
        incoming=endpoints[1],
    )
    return (ServerAdded(server_id=command.server_id, settings=settings, position=len(state.order) + 1),)


def _change(command: ChangeServer, state: ServerList) -> tuple[Event, ...]:
    server = state.get(command.server_id)
    if server is None:
        raise ServerNotFoundError()
    if command.expected_version is not None and command.expected_version != server.version:
        raise VersionConflictError(("expectedVersion",))
    base = server.settings
    problems = _Problems()
    code = base.code if command.code is UNSET else problems.parse(("code",), ServerCode.parse, command.code)
    name = base.name if command.name is UNSET else problems.parse(("name",), ServerName.parse, command.name)
    provider = base.oauth_provider if command.oauth_provider is UNSET else command.oauth_provider
    endpoints = _endpoints(problems, provider, command.outgoing, command.incoming, base)
    if code is not None:
        holder = state.holder_of(code)
        if holder is not None and holder.id != server.id:
            problems.add(("code",), ErrorCode.CODE_ALREADY_EXISTS)
    problems.raise_any()
    assert code is not None and name is not None and endpoints is not None
    settings = Settings(code=code, name=name, oauth_provider=provider, outgoing=endpoints[0], incoming=endpoints[1])
    return _changed(server.id, base, settings)


def _changed(server_id: str, before: Settings, after: Settings) -> tuple[Event, ...]:
    changes = tuple(FieldChange(field=f, before=b, after=a) for f, b, a in diff(before, after))
    return (ServerChanged(server_id=server_id, changes=changes),) if changes else ()


def _pick(sent: object, kept: T) -> T:
    """A sent value wins; an explicit null or an unsent field keeps `kept`."""
    return kept if sent is UNSET or sent is None else sent  # type: ignore[return-value]


def _endpoints(
    problems: _Problems,
    provider: OAuthProvider | None,
    sent_outgoing: OutgoingInput,
    sent_incoming: IncomingInput,
    base: Settings | None,
) -> tuple[Outgoing, Incoming] | None:
    """Outgoing and incoming settings from input laid over `base` (None when adding)."""
    protocol: ReceiveProtocol | None = (
        base.incoming.protocol if sent_incoming.protocol is UNSET and base else sent_incoming.protocol or None
    )
    if protocol is None:
        problems.add(("incoming", "protocol"), ErrorCode.REQUIRED)
    outgoing_timeout = _timeout(
        problems, "outgoing", sent_outgoing.timeout_seconds, base.outgoing.timeout_seconds if base else None
    )
    incoming_timeout = _timeout(
        problems, "incoming", sent_incoming.timeout_seconds, base.incoming.timeout_seconds if base else None
    )
    if provider is not None:
        automatic = {
            ("outgoing", "host"): sent_outgoing.host,
            ("outgoing", "port"): sent_outgoing.port,
            ("outgoing", "encryption"): sent_outgoing.encryption,
            ("outgoing", "authMethod"): sent_outgoing.auth_method,
            ("outgoing", "credentials"): sent_outgoing.credentials,
            ("incoming", "host"): sent_incoming.host,
            ("incoming", "port"): sent_incoming.port,
            ("incoming", "useTls"): sent_incoming.use_tls,
        }
        for path, sent in automatic.items():
            if sent is not UNSET and sent is not None:
                problems.add(path, ErrorCode.SET_AUTOMATICALLY)
        if sent_incoming.use_apop is True:
            problems.add(("incoming", "useApop"), ErrorCode.NOT_APPLICABLE)
        if protocol is None or outgoing_timeout is None or incoming_timeout is None:
            return None
        return oauth_servers(provider, protocol, outgoing_timeout, incoming_timeout)
    # Turning OAuth off starts from defaults: the preset's values are not the admin's.
    manual = base if base is not None and base.oauth_provider is None else None
    outgoing = _outgoing(problems, sent_outgoing, manual.outgoing if manual else None, outgoing_timeout)
    incoming = _incoming(problems, sent_incoming, manual.incoming if manual else None, protocol, incoming_timeout)
    if outgoing is None or incoming is None:
        return None
    return outgoing, incoming


def _timeout(problems: _Problems, side: str, sent: int | None | object, kept: int | None) -> int | None:
    if sent is UNSET:
        return kept if kept is not None else DEFAULT_TIMEOUT
    if sent is None:
        return DEFAULT_TIMEOUT
    return problems.parse((side, "timeoutSeconds"), Timeout.parse, sent)


def _required(
    problems: _Problems, path: Path, parser: Callable[[Any], _Parsed[T]], sent: object, kept: T | None
) -> T | None:
    if sent is UNSET and kept is not None:
        return kept
    return problems.parse(path, parser, None if sent is UNSET else sent)


def _outgoing(
    problems: _Problems, sent_outgoing: OutgoingInput, base: Outgoing | None, timeout: int | None
) -> Outgoing | None:
    host = _required(problems, ("outgoing", "host"), HostName.parse, sent_outgoing.host, base.host if base else None)
    port = _required(problems, ("outgoing", "port"), Port.parse, sent_outgoing.port, base.port if base else None)
    encryption = (
        SmtpEncryption.NONE
        if sent_outgoing.encryption is None
        else _pick(sent_outgoing.encryption, base.encryption if base else SmtpEncryption.NONE)
    )
    auth = (
        SmtpAuthMethod.NONE
        if sent_outgoing.auth_method is None
        else _pick(sent_outgoing.auth_method, base.auth_method if base else SmtpAuthMethod.NONE)
    )
    if auth is SmtpAuthMethod.XOAUTH2:
        problems.add(("outgoing", "authMethod"), ErrorCode.INVALID)
    credentials = (
        base.credentials
        if sent_outgoing.credentials is UNSET and base
        else (None if sent_outgoing.credentials is UNSET else sent_outgoing.credentials)
    )
    if auth is SmtpAuthMethod.NONE:
        if sent_outgoing.credentials is not UNSET and sent_outgoing.credentials is not None:
            problems.add(("outgoing", "credentials"), ErrorCode.NOT_APPLICABLE)
        credentials = None  # switching authentication off drops the credentials choice
    elif credentials is None and auth is not SmtpAuthMethod.XOAUTH2:
        problems.add(("outgoing", "credentials"), ErrorCode.REQUIRED)
    if host is None or port is None or timeout is None or problems.items:
        return None
    return Outgoing(
        host=host, port=port, encryption=encryption, auth_method=auth, credentials=credentials, timeout_seconds=timeout
    )


def _incoming(
    problems: _Problems,
    sent_incoming: IncomingInput,
    base: Incoming | None,
    protocol: ReceiveProtocol | None,
    timeout: int | None,
) -> Incoming | None:
    host = _required(problems, ("incoming", "host"), HostName.parse, sent_incoming.host, base.host if base else None)
    port = _required(problems, ("incoming", "port"), Port.parse, sent_incoming.port, base.port if base else None)
    use_tls = False if sent_incoming.use_tls is None else _pick(sent_incoming.use_tls, base.use_tls if base else False)
    use_apop = (
        False if sent_incoming.use_apop is None else _pick(sent_incoming.use_apop, base.use_apop if base else False)
    )
    if protocol is ReceiveProtocol.IMAP4 and use_apop:
        if sent_incoming.use_apop is True:
            problems.add(("incoming", "useApop"), ErrorCode.NOT_APPLICABLE)
        use_apop = False  # APOP is a POP3 command: moving to IMAP4 clears it
    if host is None or port is None or protocol is None or timeout is None or problems.items:
        return None
    return Incoming(
        protocol=protocol, host=host, port=port, use_tls=use_tls, use_apop=use_apop, timeout_seconds=timeout
    )


def _check_list_version(expected: int | None, state: ServerList) -> None:
    if expected is not None and expected != state.list_version:
        raise VersionConflictError(("expectedListVersion",))


def _reorder(command: ReorderServers, state: ServerList) -> tuple[Event, ...]:
    _check_list_version(command.expected_list_version, state)
    ids = command.server_ids
    if len(set(ids)) != len(ids) or set(ids) != set(state.order):
        raise OrderMismatchError()
    if ids == state.order:
        return ()
    return (ServersReordered(before=state.order, after=ids),)


def _delete(command: DeleteServer, state: ServerList) -> tuple[Event, ...]:
    server = state.get(command.server_id)
    if server is None:
        raise ServerNotFoundError()
    if command.expected_version is not None and command.expected_version != server.version:
        raise VersionConflictError(("expectedVersion",))
    return (ServerDeleted(server_id=server.id, code=server.code, name=server.name),)


def _delete_all(command: DeleteAllServers, state: ServerList) -> tuple[Event, ...]:
    _check_list_version(command.expected_list_version, state)
    if not state.order:
        return ()
    return (AllServersDeleted(server_ids=state.order),)


def _restore(command: RestoreServers, state: ServerList) -> tuple[Event, ...]:
    _check_list_version(command.expected_list_version, state)
    target = command.target
    events: list[Event] = []
    for server in state.ordered():
        if server.id not in target.servers:
            events.append(ServerDeleted(server_id=server.id, code=server.code, name=server.name))
    kept = [i for i in state.order if i in target.servers]
    events.extend(_restore_changes(state, target, kept))
    added = [i for i in target.order if i not in state.servers]
    for index, server_id in enumerate(added, start=len(kept) + 1):
        server = target.servers[server_id]
        events.append(
            ServerAdded(server_id=server_id, settings=server.settings, created_at=server.created_at, position=index)
        )
    order = tuple(kept + added)
    if order != target.order:
        events.append(ServersReordered(before=order, after=target.order))
    return tuple(events)


def _restore_changes(state: ServerList, target: ServerList, kept: list[str]) -> list[Event]:
    """ServerChanged events for kept servers, ordered so that a code is freed
    before it is taken; a swap of codes goes through a temporary code."""
    current = {i: state.servers[i].settings for i in kept}
    pending = {i: target.servers[i].settings for i in kept if current[i] != target.servers[i].settings}
    holders = {settings.code: i for i, settings in current.items()}
    events: list[Event] = []

    def move(server_id: str, settings: Settings) -> None:
        before = current[server_id]
        events.extend(_changed(server_id, before, settings))
        del holders[before.code]
        holders[settings.code] = server_id
        current[server_id] = settings

    while pending:
        ready = [i for i, s in pending.items() if holders.get(s.code, i) == i]
        if ready:
            for server_id in ready:
                move(server_id, pending.pop(server_id))
            continue
        blocker = next(iter(pending))
        # Park on a code nobody holds (a code may equal a server id, even its own).
        parking = blocker
        while parking in holders:
            parking += "~"
        move(blocker, replace(current[blocker], code=parking))
    return events
