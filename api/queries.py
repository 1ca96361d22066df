"""Read resolvers for the current list."""

from __future__ import annotations

from typing import Annotated, Any

import strawberry
from strawberry.types import Info

from api.context import Context, IsAdmin, IsSignedIn
from api.errors import bad_user_input
from api.types import MailServer, MailServerChoice, MailServerList, choices


@strawberry.type
class ServerQueries:
    @strawberry.field(permission_classes=[IsAdmin], description="Admin: the full ordered list.")
    async def mail_servers(self, info: Info[Context, Any]) -> MailServerList:
        current = await info.context.current()
        return MailServerList.from_domain(current.server_list)

    @strawberry.field(
        permission_classes=[IsAdmin],
        description="Admin: one server by id or by code (exactly one of them); null when there is none.",
    )
    async def mail_server(
        self,
        info: Info[Context, Any],
        id: Annotated[strawberry.ID | None, strawberry.argument(description="The server's id.")] = None,
        code: Annotated[str | None, strawberry.argument(description="The server's code.")] = None,
    ) -> MailServer | None:
        if (id is None) == (code is None):
            raise bad_user_input("Give exactly one of id and code.")
        servers = (await info.context.current()).server_list
        server = servers.get(str(id)) if id is not None else servers.holder_of((code or "").strip())
        if server is None:
            return None
        return MailServer.from_domain(server, servers.position_of(server.id))

    @strawberry.field(
        permission_classes=[IsSignedIn],
        description="Any signed-in user: the drop-down of user-account screens, in order.",
    )
    async def mail_server_choices(self, info: Info[Context, Any]) -> list[MailServerChoice]:
        return choices((await info.context.current()).server_list)
