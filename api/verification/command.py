"""`mailreg verify CODE`: the same check as verifyMailServer, printed as a table."""

from __future__ import annotations

import os
from collections.abc import Sequence

from api.verification.messages import finding_message
from api.verification.service import MailVerifier
from domain.model import Server
from domain.verification import Credentials, Report, VerificationStatus

EXIT_CODES = {VerificationStatus.OK: 0, VerificationStatus.WARNING: 1, VerificationStatus.FAILED: 2}


def language_from_environment() -> str:
    """'ja' when the locale asks for Japanese, else 'en'."""
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(name)
        if value:
            return "ja" if value.lower().startswith("ja") else "en"
    return "en"


def credentials_from(user: str | None, sending_user: str | None, lines: Sequence[str]) -> Credentials | None:
    """Credentials from the command line's names and the passwords read from stdin."""
    if user is None:
        return None
    return Credentials(
        username=user,
        password=lines[0],
        sending_username=sending_user,
        sending_password=lines[1] if sending_user is not None and len(lines) > 1 else None,
    )


async def verify_server(server: Server, credentials: Credentials | None, verifier: MailVerifier) -> Report:
    return await verifier.verify(server.settings, credentials)


def _table(rows: list[list[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    return ["  ".join([*(cell.ljust(w) for cell, w in zip(row, widths, strict=False)), row[-1]]) for row in rows]


def render(server: Server, report: Report, lang: str) -> str:
    """The report as plain-text tables: one line per direction, then one per finding."""
    settings = server.settings
    directions = (
        ("outgoing", "SMTP", report.outgoing, settings.outgoing.timeout_seconds),
        ("incoming", settings.incoming.protocol.value, report.incoming, settings.incoming.timeout_seconds),
    )
    lines = [f"mail server  {server.code} ({server.name})", f"status       {report.status.value}", ""]
    endpoint_rows = [["direction", "protocol", "endpoint", "status", "TLS", "time", "capabilities"]]
    finding_rows = [["direction", "status", "finding", "message"]]
    for name, protocol, endpoint, timeout in directions:
        host = f"[{endpoint.host}]" if ":" in endpoint.host else endpoint.host
        endpoint_rows.append(
            [
                name,
                protocol,
                f"{host}:{endpoint.port}",
                endpoint.status.value,
                endpoint.tls_version or "-",
                f"{endpoint.elapsed_ms} ms",
                ", ".join(endpoint.capabilities) or "-",
            ]
        )
        for finding in endpoint.findings:
            text = finding_message(finding, endpoint, protocol=protocol, timeout=timeout, lang=lang)
            finding_rows.append([name, finding.status.value, finding.code.value, text])
    return "\n".join([*lines, *_table(endpoint_rows), "", *_table(finding_rows)]) + "\n"
