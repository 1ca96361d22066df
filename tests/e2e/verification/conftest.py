"""Fixtures of the verification tests: one set of real mail servers for the
session, and the app in-process (SQLite) trusting the test CA."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller

from api.app import create_app
from tests.e2e.api_client import GraphQLClient
from tests.e2e.conftest import Deployment, migrated, sqlite_url
from tests.e2e.eventlog import EventLog
from tests.e2e.live import config_for
from tests.e2e.verification.mailservers import Certificates, Dovecot, OldTls, Silent, smtp_server
from tests.support import free_port

VERIFY = """
mutation Verify($input: VerifyMailServerInput!) {
  verifyMailServer(input: $input) {
    status
    outgoing { ...endpoint }
    incoming { ...endpoint }
    errors { field code message }
  }
}
fragment endpoint on EndpointVerification {
  host port status tlsVersion capabilities elapsedMs findings { code status message }
}
"""

OTHER_NAME = "mail.other.test"


@dataclass
class MailServers:
    certificates: Certificates
    starttls: Controller  # STARTTLS, then AUTH PLAIN LOGIN; certificate for localhost
    implicit: Controller  # implicit TLS, AUTH PLAIN LOGIN
    plain: Controller  # no TLS at all, AUTH PLAIN LOGIN
    old_starttls: Controller  # STARTTLS, then TLS 1.1 and nothing newer
    dovecot: Dovecot  # POP3 with APOP, IMAP4; certificate for localhost
    other: Dovecot  # POP3 without APOP; certificate for another name
    old_tls: OldTls
    silent: Silent
    refused: int  # a port nothing listens on


@pytest.fixture(scope="session")
def mail(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MailServers]:
    folder = tmp_path_factory.mktemp("mail")
    certificates = Certificates(folder)
    started: list[Any] = []
    try:
        for server in (
            smtp_server(starttls=certificates.server_context("localhost")),
            smtp_server(implicit=certificates.server_context("localhost")),
            smtp_server(),
            smtp_server(starttls=certificates.tls_1_1_only("localhost")),
            Dovecot(folder / "dovecot", certificates.server_pem("localhost"), apop=True).start(),
            Dovecot(folder / "other", certificates.server_pem(OTHER_NAME), apop=False).start(),
            OldTls(certificates.server_pem("localhost")).start(),
            Silent(),
        ):
            started.append(server)
        yield MailServers(certificates, *started, refused=free_port())
    finally:
        for server in reversed(started):
            server.stop()


@pytest.fixture(scope="session")
async def verifying(mail: MailServers, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Deployment]:
    """The app over ASGI on SQLite, with the test CA as MAILREG_VERIFY_CA_FILE."""
    folder = tmp_path_factory.mktemp("verify-app")
    database_url = sqlite_url(folder)
    await migrated(database_url)
    config = dataclasses.replace(config_for(database_url, folder), verify_ca_file=mail.certificates.ca_file)
    app = create_app(config)
    log = EventLog(database_url)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://mailreg.test", timeout=60
        ) as http:
            try:
                yield Deployment(api=GraphQLClient(http), log=log, http=http, database_url=database_url)
            finally:
                await log.dispose()


def outgoing(port: int, host: str = "localhost", **settings: Any) -> dict[str, Any]:
    return {"host": host, "port": port, "timeoutSeconds": 10, **settings}


def incoming(protocol: str, port: int, host: str = "localhost", **settings: Any) -> dict[str, Any]:
    return {"protocol": protocol, "host": host, "port": port, "timeoutSeconds": 10, **settings}


async def register(api: GraphQLClient, out: dict[str, Any], inc: dict[str, Any]) -> str:
    """Adds a server with these settings; returns its id."""
    code = f"verify-{uuid.uuid4().hex[:10]}"
    payload = await api.add({"code": code, "name": code, "outgoing": out, "incoming": inc})
    server_id: str = payload["server"]["id"]
    return server_id


async def verify(
    api: GraphQLClient,
    server_id: str,
    credentials: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    data = await api.gql(VERIFY, {"input": {"id": server_id, "credentials": credentials}}, headers=headers)
    payload: dict[str, Any] = data["verifyMailServer"]
    return payload


def codes(endpoint: dict[str, Any]) -> list[str]:
    return [finding["code"] for finding in endpoint["findings"]]
