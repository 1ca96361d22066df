"""verifyMailServer over GraphQL against real servers on loopback: every finding
code of the contract comes from a real endpoint."""

from __future__ import annotations

import asyncio

import pytest

from tests.e2e.conftest import Deployment
from tests.e2e.verification.conftest import MailServers, codes, incoming, outgoing, register, verify
from tests.e2e.verification.mailservers import PASSWORD, SENDER, SENDER_PASSWORD, USER

pytestmark = pytest.mark.slow

GOOD = {"username": USER, "password": PASSWORD}


async def test_signing_in_over_starttls_smtp_and_imap4_with_tls_is_ok(verifying: Deployment, mail: MailServers):
    server = await register(
        verifying.api,
        outgoing(mail.starttls.port, encryption="STARTTLS", authMethod="PLAIN", credentials="RECEIVING_ACCOUNT"),
        incoming("IMAP4", mail.dovecot.imaps, useTls=True),
    )
    report = await verify(verifying.api, server, GOOD)
    assert report["errors"] == []
    assert report["status"] == "OK", report
    out, inc = report["outgoing"], report["incoming"]
    assert codes(out) == ["CONNECTED", "AUTH_OK"] and out["status"] == "OK"
    assert out["tlsVersion"] in ("TLSv1.2", "TLSv1.3")
    assert any(c.upper().startswith("AUTH") and "PLAIN" in c.upper() for c in out["capabilities"])
    assert codes(inc) == ["CONNECTED", "AUTH_OK"] and inc["status"] == "OK"
    assert inc["tlsVersion"] in ("TLSv1.2", "TLSv1.3")
    assert "IMAP4REV1" in inc["capabilities"]
    assert (out["host"], out["port"], inc["port"]) == ("localhost", mail.starttls.port, mail.dovecot.imaps)


async def test_signing_in_over_implicit_tls_smtp_with_login_and_pop3_user_pass_is_ok(
    verifying: Deployment, mail: MailServers
):
    server = await register(
        verifying.api,
        outgoing(mail.implicit.port, encryption="TLS", authMethod="LOGIN", credentials="RECEIVING_ACCOUNT"),
        incoming("POP3", mail.dovecot.pop3s, useTls=True),
    )
    report = await verify(verifying.api, server, GOOD)
    assert report["status"] == "OK", report
    assert codes(report["outgoing"]) == ["CONNECTED", "AUTH_OK"]
    assert codes(report["incoming"]) == ["CONNECTED", "AUTH_OK"]
    assert "USER" in report["incoming"]["capabilities"]
    assert "USER/PASS" in report["incoming"]["findings"][1]["message"]


async def test_the_sending_account_signs_in_to_smtp_and_apop_signs_in_to_pop3(verifying: Deployment, mail: MailServers):
    server = await register(
        verifying.api,
        outgoing(mail.starttls.port, encryption="STARTTLS", authMethod="LOGIN", credentials="SENDING_ACCOUNT"),
        incoming("POP3", mail.dovecot.pop3, useApop=True),
    )
    # The receiving password would not do for SMTP's sending account, and vice versa.
    credentials = {**GOOD, "sendingUsername": SENDER, "sendingPassword": SENDER_PASSWORD}
    report = await verify(verifying.api, server, credentials)
    assert report["status"] == "OK", report
    assert codes(report["outgoing"]) == ["CONNECTED", "AUTH_OK"]
    assert codes(report["incoming"]) == ["CONNECTED", "AUTH_OK"]
    assert "APOP" in report["incoming"]["findings"][1]["message"]
    assert report["incoming"]["tlsVersion"] is None


async def test_without_credentials_everything_but_signing_in_is_checked_and_it_is_a_warning(
    verifying: Deployment, mail: MailServers
):
    server = await register(
        verifying.api,
        outgoing(mail.starttls.port, encryption="STARTTLS", authMethod="PLAIN", credentials="RECEIVING_ACCOUNT"),
        incoming("IMAP4", mail.dovecot.imap),
    )
    report = await verify(verifying.api, server)
    assert report["status"] == "WARNING"
    for endpoint in (report["outgoing"], report["incoming"]):
        assert codes(endpoint) == ["CONNECTED", "AUTH_NOT_CHECKED"]
        assert endpoint["status"] == "WARNING"
        assert [f["status"] for f in endpoint["findings"]] == ["OK", "WARNING"]


async def test_a_wrong_password_is_auth_failed_on_both_sides(verifying: Deployment, mail: MailServers):
    server = await register(
        verifying.api,
        outgoing(mail.implicit.port, encryption="TLS", authMethod="PLAIN", credentials="RECEIVING_ACCOUNT"),
        incoming("IMAP4", mail.dovecot.imaps, useTls=True),
    )
    report = await verify(verifying.api, server, {"username": USER, "password": "not-the-password"})
    assert report["status"] == "FAILED"
    assert codes(report["outgoing"]) == ["CONNECTED", "AUTH_FAILED"]
    assert codes(report["incoming"]) == ["CONNECTED", "AUTH_FAILED"]
    assert report["incoming"]["findings"][1]["status"] == "FAILED"


async def test_nothing_listening_is_connection_refused_and_an_unknown_host_is_dns_failed(
    verifying: Deployment, mail: MailServers
):
    server = await register(verifying.api, outgoing(mail.refused), incoming("POP3", 110, host="no-such-host.invalid"))
    report = await verify(verifying.api, server, GOOD)
    assert report["status"] == "FAILED"
    assert codes(report["outgoing"]) == ["CONNECTION_REFUSED"]
    assert codes(report["incoming"]) == ["DNS_FAILED"]
    assert "no-such-host.invalid" in report["incoming"]["findings"][0]["message"]


async def test_tls_1_1_only_is_too_old_and_a_certificate_for_another_name_is_invalid(
    verifying: Deployment, mail: MailServers
):
    server = await register(
        verifying.api,
        outgoing(mail.old_tls.port, encryption="TLS"),
        incoming("POP3", mail.other.pop3s, useTls=True),
    )
    report = await verify(verifying.api, server, GOOD)
    assert report["status"] == "FAILED"
    assert codes(report["outgoing"]) == ["TLS_VERSION_TOO_OLD"]
    assert report["outgoing"]["tlsVersion"] == "TLSv1.1"
    assert "TLSv1.1" in report["outgoing"]["findings"][0]["message"]
    assert codes(report["incoming"]) == ["CERTIFICATE_INVALID"]
    assert report["incoming"]["tlsVersion"] is None


async def test_starttls_upgrading_to_tls_1_1_only_is_too_old_too(verifying: Deployment, mail: MailServers):
    server = await register(
        verifying.api, outgoing(mail.old_starttls.port, encryption="STARTTLS"), incoming("IMAP4", mail.refused)
    )
    report = await verify(verifying.api, server)
    assert codes(report["outgoing"]) == ["CONNECTED", "TLS_VERSION_TOO_OLD"]
    assert report["outgoing"]["tlsVersion"] == "TLSv1.1"
    assert "STARTTLS" in report["outgoing"]["capabilities"]


async def test_starttls_not_offered_and_apop_not_offered(verifying: Deployment, mail: MailServers):
    server = await register(
        verifying.api,
        outgoing(mail.plain.port, encryption="STARTTLS", authMethod="PLAIN", credentials="RECEIVING_ACCOUNT"),
        incoming("POP3", mail.other.pop3, useApop=True),
    )
    report = await verify(verifying.api, server, GOOD)
    assert report["status"] == "FAILED"
    assert codes(report["outgoing"]) == ["CONNECTED", "STARTTLS_NOT_OFFERED"]
    assert codes(report["incoming"]) == ["CONNECTED", "APOP_NOT_SUPPORTED"]
    assert "STARTTLS" not in " ".join(report["outgoing"]["capabilities"]).upper()


async def test_an_auth_method_not_offered_and_tls_against_a_plain_port(verifying: Deployment, mail: MailServers):
    server = await register(
        verifying.api,
        outgoing(mail.starttls.port, encryption="STARTTLS", authMethod="CRAM_MD5", credentials="RECEIVING_ACCOUNT"),
        incoming("IMAP4", mail.dovecot.imap, useTls=True),
    )
    report = await verify(verifying.api, server, GOOD)
    assert report["status"] == "FAILED"
    assert codes(report["outgoing"]) == ["CONNECTED", "AUTH_METHOD_NOT_OFFERED"]
    assert "CRAM-MD5" in report["outgoing"]["findings"][1]["message"]
    assert codes(report["incoming"]) == ["TLS_HANDSHAKE_FAILED"]


async def test_a_server_of_another_protocol_is_a_protocol_error(verifying: Deployment, mail: MailServers):
    server = await register(verifying.api, outgoing(mail.dovecot.pop3), incoming("IMAP4", mail.plain.port))
    report = await verify(verifying.api, server, GOOD)
    assert report["status"] == "FAILED"
    assert codes(report["outgoing"])[-1] == "PROTOCOL_ERROR"
    assert codes(report["incoming"])[-1] == "PROTOCOL_ERROR"


async def test_a_server_that_never_speaks_times_out_at_the_configured_seconds_and_a_fifth_check_is_rate_limited(
    verifying: Deployment, mail: MailServers
):
    server = await register(verifying.api, outgoing(mail.silent.port), incoming("POP3", mail.silent.port))
    before = mail.silent.connections
    running = [asyncio.create_task(verify(verifying.api, server, GOOD)) for _ in range(4)]
    for _ in range(250):  # until all four have connected to both sides
        if mail.silent.connections >= before + 8:
            break
        await asyncio.sleep(0.02)
    fifth = await verify(verifying.api, server, GOOD)
    assert (fifth["status"], fifth["outgoing"], fifth["incoming"]) == (None, None, None)
    assert [(e["field"], e["code"]) for e in fifth["errors"]] == [(None, "RATE_LIMITED")]
    assert mail.silent.connections == before + 8  # the fifth tried nothing
    for report in await asyncio.gather(*running):
        assert report["status"] == "FAILED"
        for endpoint in (report["outgoing"], report["incoming"]):
            assert codes(endpoint) == ["TIMEOUT"]
            assert 10_000 <= endpoint["elapsedMs"] < 11_000
    quick = await register(verifying.api, outgoing(mail.refused), incoming("POP3", mail.refused))
    after = await verify(verifying.api, quick)  # the slots are free again
    assert after["errors"] == [] and codes(after["outgoing"]) == ["CONNECTION_REFUSED"]
