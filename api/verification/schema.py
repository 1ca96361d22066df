"""GraphQL surface of verification: its types and the `verifyMailServer` mutation."""

from __future__ import annotations

from typing import Annotated, Any

import strawberry
from strawberry.types import Info

from api.context import Context, IsAdmin
from api.enums import described
from api.errors import message
from api.types import UserError
from api.verification.messages import finding_message
from api.verification.service import RateLimitedError
from domain.errors import ErrorCode, Problem
from domain.verification import Credentials, EndpointReport, FindingCode, Report, VerificationStatus

described(
    VerificationStatus,
    "What a check found, from fine to broken.",
    {
        "OK": "Everything that was checked works.",
        "WARNING": "Works, but something needs a look (e.g. signing in was not checked).",
        "FAILED": "A mail client with these settings would fail.",
    },
)
described(
    FindingCode,
    "What one step of a check found; stable, for programs to act on.",
    {
        "CONNECTED": "TCP connection made (and TLS, when configured).",
        "DNS_FAILED": "The host name does not resolve.",
        "CONNECTION_REFUSED": "Nothing listens on that port.",
        "TIMEOUT": "No connection or no answer within the configured timeout.",
        "TLS_HANDSHAKE_FAILED": "TLS configured, and the handshake failed for another reason.",
        "TLS_VERSION_TOO_OLD": "The server offers only TLS below 1.2.",
        "CERTIFICATE_INVALID": "Untrusted chain, expired, or issued for another name.",
        "STARTTLS_NOT_OFFERED": "STARTTLS configured, and the server does not offer it.",
        "AUTH_METHOD_NOT_OFFERED": "The configured SMTP auth method is not in EHLO's AUTH list.",
        "APOP_NOT_SUPPORTED": "APOP configured, and the POP3 greeting has no timestamp.",
        "AUTH_FAILED": "The credentials were refused.",
        "AUTH_OK": "Signed in with the given credentials.",
        "AUTH_NOT_CHECKED": "No credentials were given, or the server uses OAuth (not checked).",
        "PROTOCOL_ERROR": "The server's answers are not SMTP, POP3 or IMAP4.",
    },
    name="VerificationFindingCode",
)


@strawberry.type(description="One thing the check found, with what it means on its own.")
class VerificationFinding:
    code: FindingCode = strawberry.field(description="What was found.")
    status: VerificationStatus = strawberry.field(description="What this finding means on its own.")
    message: str = strawberry.field(description="For an administrator; Japanese with Accept-Language: ja.")


@strawberry.type(description="What the check of one direction (outgoing or incoming) found.")
class EndpointVerification:
    host: str = strawberry.field(description="The host that was checked.")
    port: int = strawberry.field(description="The port that was checked.")
    status: VerificationStatus = strawberry.field(description="The worst of its findings.")
    tls_version: str | None = strawberry.field(
        description='The negotiated TLS version, e.g. "TLSv1.3"; null when no TLS was negotiated.'
    )
    capabilities: list[str] = strawberry.field(description="EHLO keywords, CAPA or CAPABILITY as the server sent them.")
    findings: list[VerificationFinding] = strawberry.field(description="What each step found, in order.")
    elapsed_ms: int = strawberry.field(description="How long this direction's check took, in milliseconds.")

    @classmethod
    def from_domain(cls, report: EndpointReport, *, protocol: str, timeout: int, lang: str) -> EndpointVerification:
        """The report with its findings' messages in `lang`."""
        return cls(
            host=report.host,
            port=report.port,
            status=report.status,
            tls_version=report.tls_version,
            capabilities=list(report.capabilities),
            findings=[
                VerificationFinding(
                    code=f.code,
                    status=f.status,
                    message=finding_message(f, report, protocol=protocol, timeout=timeout, lang=lang),
                )
                for f in report.findings
            ],
            elapsed_ms=report.elapsed_ms,
        )


@strawberry.input(description="Used only for this check: never stored, logged or echoed.")
class VerifyCredentialsInput:
    username: str = strawberry.field(description="The receiving account.")
    password: str = strawberry.field(description="The receiving account's password.")
    sending_username: str | None = strawberry.field(
        default=None, description="For SMTP when the server's credentials are SENDING_ACCOUNT."
    )
    sending_password: str | None = strawberry.field(
        default=None, description="Its password; otherwise SMTP signs in with the receiving account."
    )

    def to_domain(self) -> Credentials:
        """The credentials, for this check only."""
        return Credentials(
            username=self.username,
            password=self.password,
            sending_username=self.sending_username,
            sending_password=self.sending_password,
        )


@strawberry.input(description="Which server to check, and optionally with which account.")
class VerifyMailServerInput:
    id: strawberry.ID = strawberry.field(description="The server to check.")
    credentials: VerifyCredentialsInput | None = strawberry.field(
        default=None, description="Signs in with these when given; without them signing in is not checked."
    )


@strawberry.type(description="The report, or errors (NOT_FOUND, RATE_LIMITED) and no report.")
class VerifyMailServerPayload:
    status: VerificationStatus | None = strawberry.field(
        description="The worse of the two directions; null with errors."
    )
    outgoing: EndpointVerification | None = strawberry.field(description="The outgoing (SMTP) server's check.")
    incoming: EndpointVerification | None = strawberry.field(description="The incoming (POP3/IMAP4) server's check.")
    errors: list[UserError] = strawberry.field(description="NOT_FOUND or RATE_LIMITED; empty with a report.")

    @classmethod
    def failed(cls, info: Info[Context, Any], problem: Problem) -> VerifyMailServerPayload:
        """No report: the user error, counted and localised."""
        info.context.services.metrics.user_errors.labels(problem.code.value).inc()
        error = UserError.from_domain(problem, message(problem, info.context.lang))
        return cls(status=None, outgoing=None, incoming=None, errors=[error])

    @classmethod
    def from_domain(
        cls, report: Report, *, incoming_protocol: str, timeouts: tuple[int, int], lang: str
    ) -> VerifyMailServerPayload:
        """The report with its messages in `lang`."""
        return cls(
            status=report.status,
            outgoing=EndpointVerification.from_domain(report.outgoing, protocol="SMTP", timeout=timeouts[0], lang=lang),
            incoming=EndpointVerification.from_domain(
                report.incoming, protocol=incoming_protocol, timeout=timeouts[1], lang=lang
            ),
            errors=[],
        )


@strawberry.type
class VerificationMutation:
    """The verification mutation, composed into the schema's Mutation."""

    @strawberry.mutation(
        permission_classes=[IsAdmin],
        description="Admin: connects to the server's outgoing and incoming servers as a mail client would "
        "and reports what it found. Appends nothing to the log.",
    )
    async def verify_mail_server(
        self,
        info: Info[Context, Any],
        input: Annotated[VerifyMailServerInput, strawberry.argument(description="The server and the account.")],
    ) -> VerifyMailServerPayload:
        verifier = info.context.services.verification
        if verifier.running >= verifier.max_running:
            return VerifyMailServerPayload.failed(info, Problem(None, ErrorCode.RATE_LIMITED))
        server = (await info.context.current()).server_list.get(str(input.id))
        if server is None:
            return VerifyMailServerPayload.failed(info, Problem(("id",), ErrorCode.NOT_FOUND))
        credentials = input.credentials.to_domain() if input.credentials is not None else None
        try:
            report = await verifier.verify(server.settings, credentials)
        except RateLimitedError:
            return VerifyMailServerPayload.failed(info, Problem(None, ErrorCode.RATE_LIMITED))
        settings = server.settings
        return VerifyMailServerPayload.from_domain(
            report,
            incoming_protocol=settings.incoming.protocol.value,
            timeouts=(settings.outgoing.timeout_seconds, settings.incoming.timeout_seconds),
            lang=info.context.lang,
        )
