"""Mutation resolvers: parse, build a command, run it, map the outcome."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import strawberry
from strawberry.types import Info
from strawberry.types.unset import UnsetType

from api import request_state
from api.context import Context, IsAdmin
from api.errors import message
from api.inputs import (
    AddMailServerInput,
    ChangeMailServerInput,
    DeleteAllMailServersInput,
    DeleteMailServerInput,
    ReorderMailServersInput,
    RestoreMailServersInput,
    fingerprint,
)
from api.payloads import (
    AddMailServerPayload,
    ChangeMailServerPayload,
    DeleteAllMailServersPayload,
    DeleteMailServerPayload,
    ReorderMailServersPayload,
    RestoreMailServersPayload,
)
from api.types import MailServer, MailServerList, UserError
from domain.commands import Command, RestoreServers
from domain.errors import ErrorCode, MailServerError, Problem
from domain.events import Event
from domain.state import ServerList
from events.application.service import Request, Respond
from events.serialization import JsonDict, server_to_json
from events.store import ConcurrencyError

if TYPE_CHECKING:
    from api.services import Services

P = TypeVar("P")


def _server(server_id: str) -> Callable[[ServerList, Sequence[Event]], JsonDict]:
    def respond(servers: ServerList, _events: Sequence[Event]) -> JsonDict:
        server = servers.servers[server_id]
        return {"server": server_to_json(server, servers.position_of(server_id))}

    return respond


def _list(servers: ServerList, _events: Sequence[Event]) -> JsonDict:
    return {
        "list": {
            "version": servers.list_version,
            "items": [server_to_json(s, i) for i, s in enumerate(servers.ordered(), start=1)],
        }
    }


@dataclass(frozen=True, slots=True)
class Result:
    """What running a mutation's command came to: the response it keeps for retries, or the problems that
    kept it from happening (nothing written then)."""

    response: JsonDict | None
    problems: tuple[Problem, ...] = ()


def request_for(operation: str, input: Any, actor: str, correlation_id: str | None) -> Request:
    """The service's request for a mutation's input: how a retry of it is recognised, whichever path runs it."""
    key = None if input is None or isinstance(input.idempotency_key, UnsetType) else input.idempotency_key
    return Request(
        actor=actor,
        correlation_id=correlation_id,
        idempotency_key=key,
        fingerprint={"operation": operation, "input": fingerprint(input)},
    )


async def attempt(services: Services, command: Command, request: Request, respond: Respond) -> Result:
    """Run the command; a rejection (its own problems, or a version conflict) comes back as problems."""
    try:
        outcome = await services.mail_servers.execute(command, request, respond)
    except MailServerError as error:
        return Result(None, tuple(error.problems))
    except ConcurrencyError:
        return Result(None, (Problem(None, ErrorCode.VERSION_CONFLICT),))
    return Result(outcome.response)


def localized(problems: Sequence[Problem], lang: str) -> list[UserError]:
    """The problems as the payload reports them."""
    return [UserError.from_domain(p, message(p, lang)) for p in problems]


def user_errors(services: Services, problems: Sequence[Problem], lang: str) -> list[UserError]:
    """The problems as the payload reports them, each counted."""
    for problem in problems:
        services.metrics.user_errors.labels(problem.code.value).inc()
    return localized(problems, lang)


def _user_errors(info: Info[Context, Any], problems: Sequence[Problem]) -> list[UserError]:
    return user_errors(info.context.services, problems, info.context.lang)


def added(input: AddMailServerInput) -> tuple[Command, Respond]:
    """addMailServer's command, under a new server id, and its response."""
    server_id = str(uuid.uuid4())
    return input.to_command(server_id), _server(server_id)


def changed(input: ChangeMailServerInput) -> tuple[Command, Respond]:
    """changeMailServer's command and its response."""
    return input.to_command(), _server(str(input.id))


async def _run(
    info: Info[Context, Any],
    operation: str,
    command: Command,
    input: Any,
    respond: Respond,
    build: Callable[[JsonDict | None, list[UserError]], P],
) -> P:
    context = info.context
    scope = context.request.scope if context.request is not None else None
    failure = request_state.mutation_failure(scope) if scope is not None else None
    if failure is not None:
        # The fast path ran this very command and it failed (the database away, say): reported here as
        # any resolver's failure is, without trying the command a second time.
        raise failure
    request = request_for(operation, input, context.caller.subject, context.correlation_id)
    result = await attempt(context.services, command, request, respond)
    witness = request_state.mutation_witness(scope) if scope is not None else None
    if witness is not None:
        witness.append((operation, result))
    return build(result.response, _user_errors(info, result.problems))


@strawberry.type(description="Changes to the list. Each appends events to the log, or nothing when it fails.")
class Mutation:
    @strawberry.mutation(permission_classes=[IsAdmin], description="Admin: adds a mail server at the end of the list.")
    async def add_mail_server(
        self,
        info: Info[Context, Any],
        input: Annotated[AddMailServerInput, strawberry.argument(description="The new server.")],
    ) -> AddMailServerPayload:
        command, respond = added(input)
        return await _run(
            info,
            "addMailServer",
            command,
            input,
            respond,
            lambda r, e: AddMailServerPayload(server=MailServer.from_json(r["server"]) if r else None, errors=e),
        )

    @strawberry.mutation(
        permission_classes=[IsAdmin],
        description="Admin: changes the fields given of one server; a change that changes nothing appends nothing.",
    )
    async def change_mail_server(
        self,
        info: Info[Context, Any],
        input: Annotated[ChangeMailServerInput, strawberry.argument(description="The fields to change.")],
    ) -> ChangeMailServerPayload:
        command, respond = changed(input)
        return await _run(
            info,
            "changeMailServer",
            command,
            input,
            respond,
            lambda r, e: ChangeMailServerPayload(server=MailServer.from_json(r["server"]) if r else None, errors=e),
        )

    @strawberry.mutation(
        permission_classes=[IsAdmin],
        description="Admin: puts the whole list in a new order; the current order again appends nothing.",
    )
    async def reorder_mail_servers(
        self,
        info: Info[Context, Any],
        input: Annotated[ReorderMailServersInput, strawberry.argument(description="The new order.")],
    ) -> ReorderMailServersPayload:
        return await _run(
            info,
            "reorderMailServers",
            input.to_command(),
            input,
            _list,
            lambda r, e: ReorderMailServersPayload(list_=MailServerList.from_json(r["list"]) if r else None, errors=e),
        )

    @strawberry.mutation(
        permission_classes=[IsAdmin], description="Admin: deletes one server; the list closes the gap."
    )
    async def delete_mail_server(
        self,
        info: Info[Context, Any],
        input: Annotated[DeleteMailServerInput, strawberry.argument(description="The server to delete.")],
    ) -> DeleteMailServerPayload:
        deleted = str(input.id)
        return await _run(
            info,
            "deleteMailServer",
            input.to_command(),
            input,
            lambda _r, _e: {"deletedId": deleted},
            lambda r, e: DeleteMailServerPayload(deleted_id=strawberry.ID(r["deletedId"]) if r else None, errors=e),
        )

    @strawberry.mutation(
        permission_classes=[IsAdmin],
        description="Admin: deletes every server; on an empty list it succeeds with deletedCount 0.",
    )
    async def delete_all_mail_servers(
        self,
        info: Info[Context, Any],
        input: Annotated[
            DeleteAllMailServersInput | None, strawberry.argument(description="Optional expectations and key.")
        ] = None,
    ) -> DeleteAllMailServersPayload:
        input = input or DeleteAllMailServersInput()
        return await _run(
            info,
            "deleteAllMailServers",
            input.to_command(),
            input,
            lambda _r, events: {"deletedCount": sum(len(getattr(e, "server_ids", ())) for e in events)},
            lambda r, e: DeleteAllMailServersPayload(deleted_count=r["deletedCount"] if r else 0, errors=e),
        )

    @strawberry.mutation(
        permission_classes=[IsAdmin],
        description="Admin: brings the list back to just after the event at asOf, appending ordinary events.",
    )
    async def restore_mail_servers(
        self,
        info: Info[Context, Any],
        input: Annotated[RestoreMailServersInput, strawberry.argument(description="The position to go back to.")],
    ) -> RestoreMailServersPayload:
        def build(r: JsonDict | None, e: list[UserError]) -> RestoreMailServersPayload:
            return RestoreMailServersPayload(list_=MailServerList.from_json(r["list"]) if r else None, errors=e)

        target = await info.context.services.history.list_at(input.as_of)
        if target is None:
            return build(None, _user_errors(info, [Problem(("asOf",), ErrorCode.NOT_FOUND)]))
        command = RestoreServers(target=target, expected_list_version=input.expected())
        return await _run(info, "restoreMailServers", command, input, _list, build)
