"""GraphQL output types for servers, lists, choices and user errors."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry

from domain.errors import Problem
from domain.model import Server
from domain.state import Registry
from events.serialization import JsonDict, server_from_json


@strawberry.enum
class OAuthProvider(Enum):
    GOOGLE = "GOOGLE"
    MICROSOFT = "MICROSOFT"


@strawberry.enum
class SmtpEncryption(Enum):
    NONE = "NONE"
    TLS = "TLS"
    STARTTLS = "STARTTLS"


@strawberry.enum
class SmtpAuthMethod(Enum):
    NONE = "NONE"
    PLAIN = "PLAIN"
    LOGIN = "LOGIN"
    CRAM_MD5 = "CRAM_MD5"
    DIGEST_MD5 = "DIGEST_MD5"
    XOAUTH2 = "XOAUTH2"


@strawberry.enum
class SmtpCredentials(Enum):
    SENDING_ACCOUNT = "SENDING_ACCOUNT"
    RECEIVING_ACCOUNT = "RECEIVING_ACCOUNT"


@strawberry.enum
class ReceiveProtocol(Enum):
    POP3 = "POP3"
    IMAP4 = "IMAP4"


@strawberry.enum
class UserErrorCode(Enum):
    REQUIRED = "REQUIRED"
    INVALID = "INVALID"
    OUT_OF_RANGE = "OUT_OF_RANGE"
    NOT_APPLICABLE = "NOT_APPLICABLE"
    SET_AUTOMATICALLY = "SET_AUTOMATICALLY"
    CODE_ALREADY_EXISTS = "CODE_ALREADY_EXISTS"
    NOT_FOUND = "NOT_FOUND"
    VERSION_CONFLICT = "VERSION_CONFLICT"
    ORDER_MISMATCH = "ORDER_MISMATCH"
    IDEMPOTENCY_KEY_REUSED = "IDEMPOTENCY_KEY_REUSED"
    RATE_LIMITED = "RATE_LIMITED"


@strawberry.type(description="An expected failure of a mutation.")
class UserError:
    field: list[str] | None
    code: UserErrorCode
    message: str

    @classmethod
    def from_domain(cls, problem: Problem, text: str) -> UserError:
        return cls(
            field=list(problem.field) if problem.field else None, code=UserErrorCode(problem.code.value), message=text
        )


@strawberry.type
class OutgoingServer:
    host: str
    port: int
    encryption: SmtpEncryption
    auth_method: SmtpAuthMethod
    credentials: SmtpCredentials | None
    timeout_seconds: int


@strawberry.type
class IncomingServer:
    protocol: ReceiveProtocol
    host: str
    port: int
    use_tls: bool
    use_apop: bool
    timeout_seconds: int


@strawberry.type
class MailServer:
    id: strawberry.ID
    code: str
    name: str
    position: int
    oauth_provider: OAuthProvider | None
    outgoing: OutgoingServer
    incoming: IncomingServer
    version: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_domain(cls, server: Server, position: int) -> MailServer:
        settings, out, inc = server.settings, server.settings.outgoing, server.settings.incoming
        return cls(
            id=strawberry.ID(server.id),
            code=settings.code,
            name=settings.name,
            position=position,
            oauth_provider=OAuthProvider(settings.oauth_provider.value) if settings.oauth_provider else None,
            outgoing=OutgoingServer(
                host=out.host,
                port=out.port,
                encryption=SmtpEncryption(out.encryption.value),
                auth_method=SmtpAuthMethod(out.auth_method.value),
                credentials=SmtpCredentials(out.credentials.value) if out.credentials else None,
                timeout_seconds=out.timeout_seconds,
            ),
            incoming=IncomingServer(
                protocol=ReceiveProtocol(inc.protocol.value),
                host=inc.host,
                port=inc.port,
                use_tls=inc.use_tls,
                use_apop=inc.use_apop,
                timeout_seconds=inc.timeout_seconds,
            ),
            version=server.version,
            created_at=server.created_at,
            updated_at=server.updated_at,
        )

    @classmethod
    def from_json(cls, data: JsonDict) -> MailServer:
        return cls.from_domain(*server_from_json(data))


@strawberry.type
class MailServerList:
    version: int
    total_count: int
    items: list[MailServer]

    @classmethod
    def from_domain(cls, registry: Registry) -> MailServerList:
        items = [MailServer.from_domain(s, i) for i, s in enumerate(registry.ordered(), start=1)]
        return cls(version=registry.list_version, total_count=len(items), items=items)

    @classmethod
    def from_json(cls, data: JsonDict) -> MailServerList:
        items = [MailServer.from_json(item) for item in data["items"]]
        return cls(version=data["version"], total_count=len(items), items=items)


@strawberry.type(description="What user-account screens show in their mail server drop-down.")
class MailServerChoice:
    id: strawberry.ID
    code: str
    name: str

    @classmethod
    def from_domain(cls, server: Server) -> MailServerChoice:
        return cls(id=strawberry.ID(server.id), code=server.code, name=server.name)


def choices(registry: Registry) -> list[MailServerChoice]:
    return [MailServerChoice.from_domain(server) for server in registry.ordered()]
