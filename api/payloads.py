"""What each mutation returns: its result, or the user errors that kept it from happening."""

from __future__ import annotations

from typing import Any

import strawberry

from api.types import MailServer, MailServerList, UserError


def _errors() -> Any:
    return strawberry.field(description="Why the mutation did not happen; empty when it succeeded.")


@strawberry.type(description="The outcome of addMailServer.")
class AddMailServerPayload:
    server: MailServer | None = strawberry.field(description="The server as added; null with errors.")
    errors: list[UserError] = _errors()


@strawberry.type(description="The outcome of changeMailServer.")
class ChangeMailServerPayload:
    server: MailServer | None = strawberry.field(description="The server after the change; null with errors.")
    errors: list[UserError] = _errors()


@strawberry.type(description="The outcome of reorderMailServers.")
class ReorderMailServersPayload:
    list_: MailServerList | None = strawberry.field(name="list", description="The list in its new order.")
    errors: list[UserError] = _errors()


@strawberry.type(description="The outcome of deleteMailServer.")
class DeleteMailServerPayload:
    deleted_id: strawberry.ID | None = strawberry.field(description="The id of the deleted server; null with errors.")
    errors: list[UserError] = _errors()


@strawberry.type(description="The outcome of deleteAllMailServers.")
class DeleteAllMailServersPayload:
    deleted_count: int = strawberry.field(description="How many servers were deleted; 0 with errors.")
    errors: list[UserError] = _errors()


@strawberry.type(description="The outcome of restoreMailServers.")
class RestoreMailServersPayload:
    list_: MailServerList | None = strawberry.field(name="list", description="The list as restored.")
    errors: list[UserError] = _errors()
