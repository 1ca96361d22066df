"""GraphQL output types for servers, lists, choices and user errors."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

import strawberry

import api.enums  # noqa: F401 - registers the domain enums below with GraphQL
from api.limits import PORTS, TIMEOUTS
from domain.errors import ErrorCode, Problem
from domain.model import Incoming, Outgoing, Server
from domain.state import ServerList
from domain.values import (
    OAuthProvider,
    ReceiveProtocol,
    SmtpAuthMethod,
    SmtpCredentials,
    SmtpEncryption,
)
from events.serialization import JsonDict, server_from_json


def _fields_of(settings: Outgoing | Incoming) -> dict[str, Any]:
    """The settings by field name, which the GraphQL types share with the domain's."""
    return {f.name: getattr(settings, f.name) for f in dataclasses.fields(settings)}


@strawberry.type(
    description="An expected failure of a mutation. Authorization failures and malformed GraphQL are "
    "top-level GraphQL errors instead (extensions.code UNAUTHENTICATED, FORBIDDEN, BAD_USER_INPUT, ...)."
)
class UserError:
    field: list[str] | None = strawberry.field(
        description='Path into the input, e.g. ["outgoing", "port"]; null for the whole input.'
    )
    code: ErrorCode = strawberry.field(description="What is wrong.")
    message: str = strawberry.field(description="Human readable; Japanese when the request says Accept-Language: ja.")

    @classmethod
    def from_domain(cls, problem: Problem, text: str) -> UserError:
        """The problem as the API reports it, with its message already localised."""
        return cls(field=list(problem.field) if problem.field else None, code=problem.code, message=text)


@strawberry.type(description="How mail is sent: the outgoing (SMTP) server.")
class OutgoingServer:
    host: str = strawberry.field(description="送信メールサーバー名(SMTP): a host name or an IP address.")
    port: int = strawberry.field(description=f"{PORTS}.")
    encryption: SmtpEncryption = strawberry.field(description="How the connection is encrypted.")
    auth_method: SmtpAuthMethod = strawberry.field(description="How the server is signed in to.")
    credentials: SmtpCredentials | None = strawberry.field(
        description="Whose account signs in; null exactly when authMethod is NONE or XOAUTH2."
    )
    timeout_seconds: int = strawberry.field(description=f"{TIMEOUTS}.")


@strawberry.type(description="How mail is received: the incoming (POP3 or IMAP4) server.")
class IncomingServer:
    protocol: ReceiveProtocol = strawberry.field(description="POP3 or IMAP4.")
    host: str = strawberry.field(description="受信メールサーバー名: a host name or an IP address.")
    port: int = strawberry.field(description=f"{PORTS}.")
    use_tls: bool = strawberry.field(description="Whether the connection uses TLS.")
    use_apop: bool = strawberry.field(description="Always false for IMAP4 and for OAuth servers.")
    timeout_seconds: int = strawberry.field(description=f"{TIMEOUTS}.")


@strawberry.type(description="One mail server's settings as administrators set them, in the list's order.")
class MailServer:
    id: strawberry.ID = strawberry.field(description="Stable; never reused; survives a change of code.")
    code: str = strawberry.field(description="メールサーバーコード: unique among live servers.")
    name: str = strawberry.field(description="メールサーバーの名称: may repeat across servers.")
    position: int = strawberry.field(description="1-based place in the admin-defined order.")
    oauth_provider: OAuthProvider | None = strawberry.field(description="null: OAuth not used.")
    outgoing: OutgoingServer = strawberry.field(description="The outgoing (SMTP) server.")
    incoming: IncomingServer = strawberry.field(description="The incoming (POP3 or IMAP4) server.")
    version: int = strawberry.field(
        description="Number of events in this server's stream; send it back as expectedVersion."
    )
    created_at: datetime = strawberry.field(description="When the server was added.")
    updated_at: datetime = strawberry.field(description="When the server's own settings last changed.")

    @classmethod
    def from_domain(cls, server: Server, position: int) -> MailServer:
        """The server at this 1-based position of the list."""
        settings = server.settings
        return cls(
            id=strawberry.ID(server.id),
            code=settings.code,
            name=settings.name,
            position=position,
            oauth_provider=settings.oauth_provider,
            outgoing=OutgoingServer(**_fields_of(settings.outgoing)),
            incoming=IncomingServer(**_fields_of(settings.incoming)),
            version=server.version,
            created_at=server.created_at,
            updated_at=server.updated_at,
        )

    @classmethod
    def from_json(cls, data: JsonDict) -> MailServer:
        """The server from its stored JSON form (as kept for idempotent replies)."""
        return cls.from_domain(*server_from_json(data))


@strawberry.type(description="The ordered list of live mail servers.")
class MailServerList:
    version: int = strawberry.field(
        description="Changes whenever membership or order changes; send it back as expectedListVersion."
    )
    total_count: int = strawberry.field(description="How many servers the list holds.")
    items: list[MailServer] = strawberry.field(description="The servers, in admin-defined order.")

    @classmethod
    def from_domain(cls, servers: ServerList) -> MailServerList:
        """The whole list, in its order."""
        items = [MailServer.from_domain(s, i) for i, s in enumerate(servers.ordered(), start=1)]
        return cls(version=servers.list_version, total_count=len(items), items=items)

    @classmethod
    def from_json(cls, data: JsonDict) -> MailServerList:
        """The list from its stored JSON form (as kept for idempotent replies)."""
        items = [MailServer.from_json(item) for item in data["items"]]
        return cls(version=data["version"], total_count=len(items), items=items)


@strawberry.type(description="What user-account screens show in their mail server drop-down.")
class MailServerChoice:
    id: strawberry.ID = strawberry.field(description="The server's id.")
    code: str = strawberry.field(description="The server's code.")
    name: str = strawberry.field(description="The server's name.")

    @classmethod
    def from_domain(cls, server: Server) -> MailServerChoice:
        """The drop-down entry of a server."""
        return cls(id=strawberry.ID(server.id), code=server.code, name=server.name)


def choices(servers: ServerList) -> list[MailServerChoice]:
    """The drop-down entries, in the list's order."""
    return [MailServerChoice.from_domain(server) for server in servers.ordered()]
