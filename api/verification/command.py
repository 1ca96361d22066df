"""`mailreg verify CODE`: the same check as verifyMailServer, printed as a table."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy.engine import make_url

from api.config import Config
from api.setup import with_engine
from api.verification.messages import finding_message
from api.verification.service import MailVerifier
from domain.model import Server
from domain.verification import Credentials, Report, VerificationStatus
from events.application.service import MailServerService

EXIT_CODES = {VerificationStatus.OK: 0, VerificationStatus.WARNING: 1, VerificationStatus.FAILED: 2}
BAD_INPUT = 2


def run(
    config: Config, code: str, *, user: str | None, password_stdin: bool, sending_user: str | None, lang: str | None
) -> int:
    """Verify the server with this code, print the report; the exit status."""
    lines = sys.stdin.read().splitlines() if password_stdin and user is not None else []
    problem = problem_with(user=user, password_stdin=password_stdin, sending_user=sending_user, lang=lang, lines=lines)
    if problem is None and config.is_sqlite:
        database = make_url(config.database_url).database
        if database and database != ":memory:" and not database.startswith("file:") and not Path(database).exists():
            problem = f"no database at {database}"
    if problem is not None:
        print(f"mailreg: {problem}", file=sys.stderr)
        return BAD_INPUT
    try:
        current = asyncio.run(with_engine(config, lambda engine: MailServerService(engine).current()))
    except Exception as error:  # noqa: BLE001 - unreachable or broken database: say so, no traceback
        print(f"mailreg: verify failed: {error.__class__.__name__}: {error}", file=sys.stderr)
        return BAD_INPUT
    server = current.server_list.holder_of(code.strip())
    if server is None:
        print(f"mailreg: no mail server with the code {code.strip()!r}", file=sys.stderr)
        return BAD_INPUT
    credentials = credentials_from(user, sending_user, lines)
    report = asyncio.run(verify_server(server, credentials, MailVerifier(config.verify_ca_file)))
    sys.stdout.write(render(server, report, lang or language_from_environment()))
    return EXIT_CODES[report.status]


def problem_with(
    *, user: str | None, password_stdin: bool, sending_user: str | None, lang: str | None, lines: Sequence[str]
) -> str | None:
    """What is wrong with the command line, if anything."""
    if user is None and (password_stdin or sending_user is not None):
        return "--password-stdin and --sending-user need --user"
    if user is not None and not password_stdin:
        return "give the password on stdin with --password-stdin"
    if user is not None and (not lines or not lines[0]):
        return "no password on stdin"
    if sending_user is not None and (len(lines) < 2 or not lines[1]):
        return "--sending-user needs its password on the second line of stdin"
    if lang not in (None, "en", "ja"):
        return "--lang must be en or ja"
    return None


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
    """The report on this server's current settings."""
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
