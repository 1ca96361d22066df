"""verifyMailServer on a real `mailreg serve` (JSON logs) and `mailreg verify`:
credentials stay out of every output, nothing is appended, nothing is cached,
messages follow Accept-Language, and the CLI's exit status follows the report."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.e2e.api_client import GraphQLClient
from tests.e2e.conftest import sqlite_url
from tests.e2e.eventlog import EventLog
from tests.e2e.live import LiveServer
from tests.e2e.verification.conftest import VERIFY, MailServers, codes, incoming, outgoing, register, verify
from tests.e2e.verification.mailservers import PASSWORD, SENDER, SENDER_PASSWORD, USER, smtp_server
from tests.support import free_port, token

pytestmark = pytest.mark.slow

WRONG_PASSWORD = "Wrong-pw-0c5d7e19aa"
SECRETS = (PASSWORD, SENDER_PASSWORD, WRONG_PASSWORD, USER, SENDER)


@dataclass
class Served:
    server: LiveServer
    api: GraphQLClient
    log: EventLog
    good: str
    good_code: str
    broken_code: str


@pytest.fixture(scope="module")
async def served(mail: MailServers, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Served]:
    folder = tmp_path_factory.mktemp("verify-served")
    database_url = sqlite_url(folder)
    server = LiveServer(
        database_url=database_url,
        data_dir=folder,
        extra_env={"MAILREG_LOG_FORMAT": "json", "MAILREG_VERIFY_CA_FILE": str(mail.certificates.ca_file)},
    ).start()
    log = EventLog(database_url)
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=60) as http:
            api = GraphQLClient(http)
            good = await register(
                api,
                outgoing(mail.starttls.port, encryption="STARTTLS", authMethod="PLAIN", credentials="SENDING_ACCOUNT"),
                incoming("IMAP4", mail.dovecot.imaps, useTls=True),
            )
            broken = await register(
                api, outgoing(mail.plain.port, encryption="STARTTLS"), incoming("POP3", mail.dovecot.imap)
            )
            good_code = await api.gql("query($id: ID!) { mailServer(id: $id) { code } }", {"id": good})
            broken_code = await api.gql("query($id: ID!) { mailServer(id: $id) { code } }", {"id": broken})
            yield Served(
                server,
                api,
                log,
                good,
                good_code["mailServer"]["code"],
                broken_code["mailServer"]["code"],
            )
    finally:
        await log.dispose()
        server.stop()


def cli(served: Served, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "api", "verify", *args],
        env=served.server.env(),
        cwd=served.server.data_dir,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


async def test_credentials_appear_in_no_log_line_event_metric_or_error_and_nothing_is_appended(served: Served):
    api = served.api
    credentials = {
        "username": USER,
        "password": PASSWORD,
        "sendingUsername": SENDER,
        "sendingPassword": SENDER_PASSWORD,
    }
    bodies: list[str] = []
    events_before = await served.log.count()

    async def post(variables: dict[str, Any], **headers: str) -> dict[str, Any]:
        response = await api.http.post(
            "/graphql",
            json={"query": VERIFY, "variables": variables},
            headers={"Authorization": f"Bearer {token()}", **headers},
        )
        bodies.append(response.text)
        result: dict[str, Any] = response.json()
        return result

    good = await post({"input": {"id": served.good, "credentials": credentials}})
    assert good["data"]["verifyMailServer"]["status"] == "OK", good
    wrong = await post({"input": {"id": served.good, "credentials": {"username": USER, "password": WRONG_PASSWORD}}})
    assert codes(wrong["data"]["verifyMailServer"]["incoming"]) == ["CONNECTED", "AUTH_FAILED"]
    # GraphQL quotes a variable that fails to coerce, whole, in its error message.
    bogus = await post({"input": {"id": served.good, "credentials": {**credentials, "bogus": 1}}})
    assert "bogus" in bogus["errors"][0]["message"]
    missing = await post({"input": {"id": "no-such-id", "credentials": credentials}}, **{"Accept-Language": "ja"})
    assert missing["data"]["verifyMailServer"]["errors"][0]["code"] == "NOT_FOUND"
    response = await api.http.post(
        "/graphql",
        json={"query": VERIFY, "variables": {"input": {"id": served.good, "credentials": credentials}}},
        headers={"Authorization": f"Bearer {token('someone', roles=[])}"},
    )
    bodies.append(response.text)
    assert response.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    anonymous = await api.http.post(
        "/graphql", json={"query": VERIFY, "variables": {"input": {"id": served.good, "credentials": credentials}}}
    )
    bodies.append(anonymous.text)
    assert anonymous.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"

    served.server.wait_for_output(r'"operation": "verifyMailServer", "outcome": "forbidden"')
    metrics = (await api.http.get("/metrics")).text
    assert 'operation="verifyMailServer"' in metrics
    exported = served.server.cli("export").stdout
    everything = "\n".join([*bodies, "".join(served.server.output), metrics, exported])
    for secret in SECRETS:
        assert secret not in everything
    assert await served.log.count() == events_before


async def test_messages_follow_accept_language(served: Served):
    english = await verify(served.api, served.good)
    japanese = await verify(served.api, served.good, headers={"Accept-Language": "ja"})
    assert codes(japanese["outgoing"]) == codes(english["outgoing"]) == ["CONNECTED", "AUTH_NOT_CHECKED"]
    assert english["outgoing"]["findings"][0]["message"].startswith("Connected to localhost:")
    assert "接続しました" in japanese["outgoing"]["findings"][0]["message"]
    assert "サインインは確認していません" in japanese["incoming"]["findings"][1]["message"]
    unknown = await served.api.gql(VERIFY, {"input": {"id": "no-such-id"}}, headers={"Accept-Language": "ja,en;q=0.5"})
    error = unknown["verifyMailServer"]["errors"][0]
    assert (error["field"], error["code"]) == (["id"], "NOT_FOUND")
    assert error["message"] == "メールサーバーが見つかりません。"


async def test_each_verification_connects_afresh_rather_than_answering_from_a_cache(served: Served, mail: MailServers):
    port = free_port()
    server = await register(served.api, outgoing(port), incoming("IMAP4", mail.dovecot.imap))
    assert codes((await verify(served.api, server))["outgoing"]) == ["CONNECTION_REFUSED"]
    smtp = smtp_server(port=port)
    try:
        assert codes((await verify(served.api, server))["outgoing"]) == ["CONNECTED"]
    finally:
        smtp.stop()


def test_the_cli_prints_an_ok_report_and_exits_0_when_signing_in_works(served: Served):
    result = cli(
        served,
        served.good_code,
        "--user",
        USER,
        "--sending-user",
        SENDER,
        "--password-stdin",
        stdin=f"{PASSWORD}\n{SENDER_PASSWORD}\n",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[1].split() == ["status", "OK"]
    assert sum("AUTH_OK" in line for line in lines) == 2
    assert all(secret not in result.stdout + result.stderr for secret in SECRETS)


def test_the_cli_exits_1_on_a_warning_and_speaks_japanese_when_asked(served: Served):
    result = cli(served, served.good_code, "--lang", "ja")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "AUTH_NOT_CHECKED" in result.stdout and "サインインは確認していません" in result.stdout


def test_the_cli_exits_2_on_a_failed_check_and_on_an_unknown_code(served: Served):
    broken = cli(served, served.broken_code)
    assert broken.returncode == 2, broken.stdout + broken.stderr
    assert "STARTTLS_NOT_OFFERED" in broken.stdout and "PROTOCOL_ERROR" in broken.stdout
    unknown = cli(served, "no-such-code")
    assert unknown.returncode == 2 and "no mail server with the code 'no-such-code'" in unknown.stderr
    wrong = cli(served, served.good_code, "--user", USER, "--password-stdin", stdin=f"{WRONG_PASSWORD}\n")
    assert wrong.returncode == 2 and "AUTH_FAILED" in wrong.stdout and WRONG_PASSWORD not in wrong.stdout
