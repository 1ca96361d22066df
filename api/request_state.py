"""Typed access to what one request carries from stage to stage, kept in the ASGI scope's state."""

from __future__ import annotations

from collections.abc import Hashable
from typing import TYPE_CHECKING, Any, cast

from starlette.requests import HTTPConnection
from starlette.types import Scope, Send

if TYPE_CHECKING:
    from api.auth import Principal, TokenVerifier
    from api.mutations import Result
    from events.application.service import CurrentList

# Namespaced so that they cannot meet the lifespan state Starlette copies into every scope.
_BODY = "mailreg.body"
_REQUEST_ID = "mailreg.request_id"
_CORRELATION_ID = "mailreg.correlation_id"
_PRINCIPAL = "mailreg.principal"
_CURRENT_LIST = "mailreg.current_list"
_SERVER_SEND = "mailreg.server_send"
_READ_KEY = "mailreg.read_key"
_MUTATION_WITNESS = "mailreg.mutation_witness"
_MUTATION_FAILURE = "mailreg.mutation_failure"


def _state(scope: Scope) -> dict[str, Any]:
    return cast(dict[str, Any], scope.setdefault("state", {}))


def set_body(scope: Scope, body: dict[str, Any]) -> None:
    """Keep the decoded JSON body of a POST so that no later stage decodes it again."""
    _state(scope)[_BODY] = body


def body(scope: Scope) -> dict[str, Any] | None:
    """The decoded JSON body of a POST, when the request guard kept one."""
    return cast("dict[str, Any] | None", _state(scope).get(_BODY))


def set_request_ids(scope: Scope, request_id: str, correlation_id: str | None) -> None:
    """Keep the request's id and the caller's own X-Request-ID (the correlation id, when sent)."""
    state = _state(scope)
    state[_REQUEST_ID] = request_id
    state[_CORRELATION_ID] = correlation_id


def request_id(scope: Scope) -> str | None:
    """The id logs and masked errors name this request by."""
    return cast("str | None", _state(scope).get(_REQUEST_ID))


def correlation_id(scope: Scope) -> str | None:
    """The caller's X-Request-ID, recorded with the events the request appends."""
    return cast("str | None", _state(scope).get(_CORRELATION_ID))


def principal(connection: HTTPConnection, verifier: TokenVerifier) -> Principal | None:
    """Who sent this HTTP request: its bearer token verified once, however often this is asked."""
    state = _state(connection.scope)
    if _PRINCIPAL not in state:
        state[_PRINCIPAL] = verifier.principal(connection.headers.get("authorization"))
    return cast("Principal | None", state[_PRINCIPAL])


def set_current_list(scope: Scope, current: CurrentList) -> None:
    """Keep the current list read for this request, so that every field sees the same one."""
    _state(scope)[_CURRENT_LIST] = current


def current_list(scope: Scope) -> CurrentList | None:
    """The current list this request has read already, if any."""
    return cast("CurrentList | None", _state(scope).get(_CURRENT_LIST))


def set_read_key(scope: Scope, key: Hashable) -> None:
    """Keep the key under which this request's answer may be cached (made from its raw bytes)."""
    _state(scope)[_READ_KEY] = key


def read_key(scope: Scope) -> Hashable | None:
    """The request's cache key, when the fast read path made one."""
    return cast("Hashable | None", _state(scope).get(_READ_KEY))


def set_server_send(scope: Scope, send: Send) -> None:
    """Keep the server's own send callable of a websocket, before any middleware wraps it."""
    _state(scope)[_SERVER_SEND] = send


def server_send(scope: Scope) -> Send | None:
    """The server's own send callable of a websocket, when KeepServerSend kept it."""
    return cast("Send | None", _state(scope).get(_SERVER_SEND))


def set_mutation_witness(scope: Scope, witness: list[tuple[str, Result]]) -> None:
    """Ask the mutation resolvers to note what each of this request's commands came to (api/fast_mutations.py)."""
    _state(scope)[_MUTATION_WITNESS] = witness


def mutation_witness(scope: Scope) -> list[tuple[str, Result]] | None:
    """Where this request's mutation resolvers note their operation and result, when asked to."""
    return cast("list[tuple[str, Result]] | None", _state(scope).get(_MUTATION_WITNESS))


def set_mutation_failure(scope: Scope, error: Exception) -> None:
    """The fast path ran this request's command and it failed unexpectedly: the resolver reports `error`
    instead of running the command a second time (api/fast_mutations.py)."""
    _state(scope)[_MUTATION_FAILURE] = error


def mutation_failure(scope: Scope) -> Exception | None:
    """The failure the fast path met running this request's command, if it did."""
    return cast("Exception | None", _state(scope).get(_MUTATION_FAILURE))
