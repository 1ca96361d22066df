"""Mutation resolvers: parse, build a command, run it, map the outcome."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

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
from api.types import MailServer, MailServerList, UserError
from domain.commands import Command, RestoreServers
from domain.errors import ErrorCode, MailServerError, Problem
from domain.events import Event
from domain.state import Registry
from events.registry import Request
from events.serialization import JsonDict, server_to_json
from events.store import ConcurrencyError


@strawberry.type
class AddMailServerPayload:
    server: MailServer | None
    errors: list[UserError]


@strawberry.type
class ChangeMailServerPayload:
    server: MailServer | None
    errors: list[UserError]


@strawberry.type
class ReorderMailServersPayload:
    list_: MailServerList | None = strawberry.field(name="list")
    errors: list[UserError]


@strawberry.type
class DeleteMailServerPayload:
    deleted_id: strawberry.ID | None
    errors: list[UserError]


@strawberry.type
class DeleteAllMailServersPayload:
    deleted_count: int
    errors: list[UserError]


@strawberry.type
class RestoreMailServersPayload:
    list_: MailServerList | None = strawberry.field(name="list")
    errors: list[UserError]


P = TypeVar("P")


def _server(server_id: str) -> Callable[[Registry, Sequence[Event]], JsonDict]:
    def respond(registry: Registry, _events: Sequence[Event]) -> JsonDict:
        server = registry.servers[server_id]
        return {"server": server_to_json(server, registry.position_of(server_id))}

    return respond


def _list(registry: Registry, _events: Sequence[Event]) -> JsonDict:
    return {
        "list": {
            "version": registry.list_version,
            "items": [server_to_json(s, i) for i, s in enumerate(registry.ordered(), start=1)],
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
    respond: Callable[[Registry, Sequence[Event]], JsonDict],
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
        outcome = await info.context.services.registry.execute(command, request, respond)
    except MailServerError as error:
        return build(None, _user_errors(info, error.problems))
    except ConcurrencyError:
        return build(None, _user_errors(info, [Problem(None, ErrorCode.VERSION_CONFLICT)]))
    return build(outcome.response, [])


@strawberry.type
class Mutation:
    @strawberry.mutation(permission_classes=[IsAdmin])
    async def add_mail_server(self, info: Info[Context, Any], input: AddMailServerInput) -> AddMailServerPayload:
        server_id = str(uuid.uuid4())
        return await _run(
            info,
            "addMailServer",
            input.to_command(server_id),
            input,
            _server(server_id),
            lambda r, e: AddMailServerPayload(server=MailServer.from_json(r["server"]) if r else None, errors=e),
        )

    @strawberry.mutation(permission_classes=[IsAdmin])
    async def change_mail_server(
        self, info: Info[Context, Any], input: ChangeMailServerInput
    ) -> ChangeMailServerPayload:
        return await _run(
            info,
            "changeMailServer",
            input.to_command(),
            input,
            _server(str(input.id)),
            lambda r, e: ChangeMailServerPayload(server=MailServer.from_json(r["server"]) if r else None, errors=e),
        )

    @strawberry.mutation(permission_classes=[IsAdmin])
    async def reorder_mail_servers(
        self, info: Info[Context, Any], input: ReorderMailServersInput
    ) -> ReorderMailServersPayload:
        return await _run(
            info,
            "reorderMailServers",
            input.to_command(),
            input,
            _list,
            lambda r, e: ReorderMailServersPayload(list_=MailServerList.from_json(r["list"]) if r else None, errors=e),
        )

    @strawberry.mutation(permission_classes=[IsAdmin])
    async def delete_mail_server(
        self, info: Info[Context, Any], input: DeleteMailServerInput
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

    @strawberry.mutation(permission_classes=[IsAdmin])
    async def delete_all_mail_servers(
        self, info: Info[Context, Any], input: DeleteAllMailServersInput | None = None
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

    @strawberry.mutation(permission_classes=[IsAdmin])
    async def restore_mail_servers(
        self, info: Info[Context, Any], input: RestoreMailServersInput
    ) -> RestoreMailServersPayload:
        def build(r: JsonDict | None, e: list[UserError]) -> RestoreMailServersPayload:
            return RestoreMailServersPayload(list_=MailServerList.from_json(r["list"]) if r else None, errors=e)

        target = await info.context.services.history.registry_at(input.as_of)
        if target is None:
            return build(None, _user_errors(info, [Problem(("asOf",), ErrorCode.NOT_FOUND)]))
        command = RestoreServers(target=target, expected_list_version=input.expected())
        return await _run(info, "restoreMailServers", command, input, _list, build)
