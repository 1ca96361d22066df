"""Mutation resolvers: parse, build a command, run it, map the outcome."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from typing import Annotated, Any, TypeVar

import strawberry
from strawberry.types import Info
from strawberry.types.unset import UnsetType

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
from events.application.service import Request
from events.serialization import JsonDict, server_to_json
from events.store import ConcurrencyError

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


def _user_errors(info: Info[Context, Any], problems: Sequence[Problem]) -> list[UserError]:
    lang = info.context.lang
    for problem in problems:
        info.context.services.metrics.user_errors.labels(problem.code.value).inc()
    return [UserError.from_domain(p, message(p, lang)) for p in problems]


async def _run(
    info: Info[Context, Any],
    operation: str,
    command: Command,
    input: Any,
    respond: Callable[[ServerList, Sequence[Event]], JsonDict],
    build: Callable[[JsonDict | None, list[UserError]], P],
) -> P:
    key = None if input is None or isinstance(input.idempotency_key, UnsetType) else input.idempotency_key
    request = Request(
        actor=info.context.caller.subject,
        correlation_id=info.context.correlation_id,
        idempotency_key=key,
        fingerprint={"operation": operation, "input": fingerprint(input)},
    )
    try:
        outcome = await info.context.services.mail_servers.execute(command, request, respond)
    except MailServerError as error:
        return build(None, _user_errors(info, error.problems))
    except ConcurrencyError:
        return build(None, _user_errors(info, [Problem(None, ErrorCode.VERSION_CONFLICT)]))
    return build(outcome.response, [])


@strawberry.type(description="Changes to the list. Each appends events to the log, or nothing when it fails.")
class Mutation:
    @strawberry.mutation(permission_classes=[IsAdmin], description="Admin: adds a mail server at the end of the list.")
    async def add_mail_server(
        self,
        info: Info[Context, Any],
        input: Annotated[AddMailServerInput, strawberry.argument(description="The new server.")],
    ) -> AddMailServerPayload:
        server_id = str(uuid.uuid4())
        return await _run(
            info,
            "addMailServer",
            input.to_command(server_id),
            input,
            _server(server_id),
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
        return await _run(
            info,
            "changeMailServer",
            input.to_command(),
            input,
            _server(str(input.id)),
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
