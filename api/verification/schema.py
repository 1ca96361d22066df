"""GraphQL surface of verification: its types and the `verifyMailServer` mutation."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.types import Info

from api.context import Context, IsAdmin
from api.errors import message
from api.types import UserError
from api.verification.messages import finding_message
from api.verification.service import RateLimitedError
from domain.errors import ErrorCode, Problem
from domain.verification import Credentials, EndpointReport, Report
from domain.verification import FindingCode as DomainFindingCode
from domain.verification import VerificationStatus as DomainStatus

VerificationStatus = strawberry.enum(DomainStatus, name="VerificationStatus")
VerificationFindingCode = strawberry.enum(DomainFindingCode, name="VerificationFindingCode")


@strawberry.type
class VerificationFinding:
    code: VerificationFindingCode  # type: ignore[valid-type]
    status: VerificationStatus  # type: ignore[valid-type]
    message: str


@strawberry.type(description="What the check of one direction (outgoing or incoming) found.")
class EndpointVerification:
    host: str
    port: int
    status: VerificationStatus  # type: ignore[valid-type]
    tls_version: str | None
    capabilities: list[str]
    findings: list[VerificationFinding]
    elapsed_ms: int

    @classmethod
    def from_domain(cls, report: EndpointReport, *, protocol: str, timeout: int, lang: str) -> EndpointVerification:
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
    username: str
    password: str
    sending_username: str | None = None
    sending_password: str | None = None

    def to_domain(self) -> Credentials:
        return Credentials(
            username=self.username,
            password=self.password,
            sending_username=self.sending_username,
            sending_password=self.sending_password,
        )


@strawberry.input
class VerifyMailServerInput:
    id: strawberry.ID
    credentials: VerifyCredentialsInput | None = None


@strawberry.type
class VerifyMailServerPayload:
    status: VerificationStatus | None  # type: ignore[valid-type]
    outgoing: EndpointVerification | None
    incoming: EndpointVerification | None
    errors: list[UserError]

    @classmethod
    def failed(cls, info: Info[Context, Any], problem: Problem) -> VerifyMailServerPayload:
        info.context.services.metrics.user_errors.labels(problem.code.value).inc()
        error = UserError.from_domain(problem, message(problem, info.context.lang))
        return cls(status=None, outgoing=None, incoming=None, errors=[error])

    @classmethod
    def from_domain(
        cls, report: Report, *, incoming_protocol: str, timeouts: tuple[int, int], lang: str
    ) -> VerifyMailServerPayload:
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
    @strawberry.mutation(
        permission_classes=[IsAdmin],
        description="Admin: connects to the server's outgoing and incoming servers as a mail client would "
        "and reports what it found. Appends nothing to the log.",
    )
    async def verify_mail_server(
        self, info: Info[Context, Any], input: VerifyMailServerInput
    ) -> VerifyMailServerPayload:
        verifier = info.context.services.verification
        if verifier.running >= verifier.max_running:
            return VerifyMailServerPayload.failed(info, Problem(None, ErrorCode.RATE_LIMITED))
        server = (await info.context.current()).registry.get(str(input.id))
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
