"""What verification probes for given settings, and how findings add up to a status."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from api.config import Config, ConfigError
from api.verification.command import EXIT_CODES, credentials_from, problem_with
from api.verification.messages import finding_message
from api.verification.redaction import secrets_in
from domain.model import Settings
from domain.values import SmtpAuthMethod
from domain.verification import (
    Account,
    Credentials,
    EndpointReport,
    Finding,
    FindingCode,
    NotChecked,
    Report,
    Security,
    VerificationStatus,
    plan,
    status_of,
    worst,
)
from tests.unit.builders import IMAP4, MICROSOFT, POP3, manual, oauth

OK, WARNING, FAILED = VerificationStatus.OK, VerificationStatus.WARNING, VerificationStatus.FAILED
ALICE = Credentials(username="alice", password="pw-a", sending_username="alice-out", sending_password="pw-s")


def endpoint(*found: FindingCode) -> EndpointReport:
    return EndpointReport(
        host="mail.example.com",
        port=25,
        tls_version=None,
        capabilities=(),
        findings=tuple(Finding(code=c) for c in found),
        elapsed_ms=5,
    )


def smtp_auth(method: str, credentials: str, encryption: str = "NONE") -> Settings:
    return manual(
        **{"outgoing.encryption": encryption, "outgoing.authMethod": method, "outgoing.credentials": credentials}
    )


def test_only_connected_and_auth_ok_are_ok_and_only_auth_not_checked_is_a_warning():
    assert {c for c in FindingCode if status_of(c) is OK} == {FindingCode.CONNECTED, FindingCode.AUTH_OK}
    assert {c for c in FindingCode if status_of(c) is WARNING} == {FindingCode.AUTH_NOT_CHECKED}
    assert status_of(FindingCode.TLS_VERSION_TOO_OLD) is FAILED


def test_a_direction_is_as_bad_as_its_worst_finding_and_the_report_as_its_worse_direction():
    assert worst([]) is OK
    assert endpoint(FindingCode.CONNECTED, FindingCode.AUTH_OK).status is OK
    assert endpoint(FindingCode.CONNECTED, FindingCode.AUTH_NOT_CHECKED).status is WARNING
    assert endpoint(FindingCode.CONNECTED, FindingCode.AUTH_FAILED).status is FAILED
    warning, failed = endpoint(FindingCode.AUTH_NOT_CHECKED), endpoint(FindingCode.TIMEOUT)
    assert Report(outgoing=warning, incoming=endpoint(FindingCode.AUTH_OK)).status is WARNING
    assert Report(outgoing=warning, incoming=failed).status is FAILED
    assert [EXIT_CODES[s] for s in (OK, WARNING, FAILED)] == [0, 1, 2]


def test_starttls_smtp_with_the_sending_account_signs_in_with_the_sending_credentials():
    settings = smtp_auth("CRAM_MD5", "SENDING_ACCOUNT", encryption="STARTTLS")
    smtp, mailbox = plan(settings, ALICE)
    assert (smtp.security, smtp.mechanism) == (Security.STARTTLS, "CRAM-MD5")
    assert smtp.account == Account(username="alice-out", password="pw-s")
    assert mailbox.account == Account(username="alice", password="pw-a")


def test_the_receiving_account_signs_in_to_smtp_when_so_configured_or_when_no_sending_account_is_given():
    receiving = manual(**{"outgoing.authMethod": "PLAIN", "outgoing.credentials": "RECEIVING_ACCOUNT"})
    assert plan(receiving, ALICE)[0].account == Account(username="alice", password="pw-a")
    sending = manual(**{"outgoing.authMethod": "LOGIN", "outgoing.credentials": "SENDING_ACCOUNT"})
    only_receiving = Credentials(username="bob", password="pw-b")
    assert plan(sending, only_receiving)[0].account == Account(username="bob", password="pw-b")


def test_without_credentials_nothing_signs_in_and_smtp_without_auth_has_nothing_to_check():
    settings = smtp_auth("PLAIN", "RECEIVING_ACCOUNT", encryption="TLS")
    smtp, mailbox = plan(settings, None)
    assert smtp.security is Security.IMPLICIT_TLS
    assert (smtp.account, smtp.not_checked) == (None, NotChecked.NO_CREDENTIALS)
    assert (mailbox.account, mailbox.not_checked) == (None, NotChecked.NO_CREDENTIALS)
    no_auth, _ = plan(manual(), ALICE)
    assert (no_auth.mechanism, no_auth.account, no_auth.not_checked) == (None, None, None)


def test_oauth_servers_are_checked_short_of_signing_in_even_with_credentials():
    smtp, mailbox = plan(oauth(provider=MICROSOFT, protocol=POP3), ALICE)
    assert (smtp.host, smtp.port, smtp.security) == ("smtp.office365.com", 587, Security.STARTTLS)
    assert smtp.mechanism == "XOAUTH2"
    assert (smtp.account, smtp.not_checked) == (None, NotChecked.OAUTH)
    assert (mailbox.host, mailbox.port, mailbox.use_tls) == ("outlook.office365.com", 995, True)
    assert (mailbox.account, mailbox.not_checked) == (None, NotChecked.OAUTH)


def test_digest_md5_is_looked_for_but_not_signed_in_with():
    settings = manual(**{"outgoing.authMethod": "DIGEST_MD5", "outgoing.credentials": "RECEIVING_ACCOUNT"})
    smtp, _ = plan(settings, ALICE)
    assert smtp.auth_method is SmtpAuthMethod.DIGEST_MD5
    assert (smtp.mechanism, smtp.account, smtp.not_checked) == ("DIGEST-MD5", None, NotChecked.UNSUPPORTED_METHOD)


def test_apop_and_tls_of_the_incoming_server_are_taken_as_configured():
    _, pop = plan(manual(**{"incoming.useApop": True, "incoming.timeoutSeconds": 15}), ALICE)
    assert (pop.protocol, pop.use_apop, pop.use_tls, pop.timeout_seconds) == (POP3, True, False, 15)
    _, imap = plan(manual(protocol=IMAP4, **{"incoming.useTls": True, "incoming.port": 993}), ALICE)
    assert (imap.protocol, imap.use_apop, imap.use_tls, imap.port) == (IMAP4, False, True, 993)


def test_credentials_do_not_show_their_passwords_when_printed():
    assert "pw-a" not in repr(ALICE) and "pw-s" not in repr(ALICE)
    assert "pw-a" not in repr(Account(username="alice", password="pw-a"))


@pytest.mark.parametrize("lang", ["en", "ja"])
@pytest.mark.parametrize("code", list(FindingCode))
def test_every_finding_has_a_message_in_both_languages(code: FindingCode, lang: str):
    report = endpoint(code)
    text = finding_message(report.findings[0], report, protocol="SMTP", timeout=30, lang=lang)
    assert text and "{" not in text
    if code is not FindingCode.AUTH_NOT_CHECKED:
        assert "mail.example.com" in text


def test_passwords_are_found_at_any_depth_of_the_variables():
    variables = {"input": {"id": "1", "credentials": {"username": "u", "password": "p1", "sendingPassword": "p2"}}}
    assert secrets_in(variables) == {"p1", "p2"}  # "u" is too short to blank out
    assert secrets_in({"credentials": {"username": "alice", "password": "p"}}) == {"alice", "p"}
    assert secrets_in({"list": [{"password": "p3"}], "password": ""}) == {"p3"}


def test_the_cli_reads_the_sending_password_from_the_second_line_only_with_a_sending_user():
    assert credentials_from(None, None, []) is None
    both = credentials_from("alice", "alice-out", ["pw-a", "pw-s"])
    assert both == Credentials(username="alice", password="pw-a", sending_username="alice-out", sending_password="pw-s")
    assert credentials_from("alice", None, ["pw-a", "ignored"]) == Credentials(username="alice", password="pw-a")


@pytest.mark.parametrize(
    ("arguments", "problem"),
    [
        ({"password_stdin": True}, "--password-stdin and --sending-user need --user"),
        ({"sending_user": "out"}, "--password-stdin and --sending-user need --user"),
        ({"user": "alice"}, "give the password on stdin with --password-stdin"),
        ({"user": "alice", "password_stdin": True}, "no password on stdin"),
        ({"user": "alice", "password_stdin": True, "lines": [""]}, "no password on stdin"),
        (
            {"user": "alice", "password_stdin": True, "sending_user": "out", "lines": ["pw"]},
            "--sending-user needs its password on the second line of stdin",
        ),
        ({"lang": "de"}, "--lang must be en or ja"),
        ({}, None),
        ({"user": "alice", "password_stdin": True, "sending_user": "out", "lines": ["pw", "pw2"], "lang": "ja"}, None),
    ],
)
def test_the_cli_refuses_an_incomplete_command_line_before_anything_is_tried(
    arguments: dict[str, Any], problem: str | None
):
    given: dict[str, Any] = {"user": None, "password_stdin": False, "sending_user": None, "lang": None, "lines": []}
    assert problem_with(**{**given, **arguments}) == problem


def test_an_extra_ca_file_that_is_missing_or_not_pem_is_refused_at_start_up(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
):
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate\n")
    for path, reason in [(tmp_path / "missing.pem", "no file"), (junk, "holds no PEM CA certificate")]:
        monkeypatch.setenv("MAILREG_VERIFY_CA_FILE", str(path))
        with pytest.raises(ConfigError, match=reason):
            Config.from_env()
    monkeypatch.delenv("MAILREG_VERIFY_CA_FILE")
    assert Config.from_env().verify_ca_file is None
