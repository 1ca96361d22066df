import sys
import unicodedata

import pytest

from domain.errors import ErrorCode, InvalidValueError
from domain.values import HostName, Port, ServerCode, ServerName, Timeout

LABELS = [ServerCode, ServerName]
LONGEST_HOST = ".".join(["a" * 63] * 3 + ["b" * 61])
assert len(LONGEST_HOST) == 253


def code_of(parse, raw):
    with pytest.raises(InvalidValueError) as raised:
        parse(raw)
    return raised.value.code


@pytest.mark.parametrize("label", LABELS)
@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        ("MAIN", "MAIN"),
        ("A", "A"),
        ("  MAIN  ", "MAIN"),
        ("\tMAIN\r\n", "MAIN"),
        ("\u00a0MAIN\u3000", "MAIN"),
        ("\u2003\u2028MAIN\u202f\u205f", "MAIN"),
        ("\x85MAIN\u1680", "MAIN"),
        ("Main Server 2", "Main Server 2"),
        ("Zürich 東京", "Zürich 東京"),
        ("a" * 100, "a" * 100),
        (" " + "a" * 100 + "\u3000", "a" * 100),
    ],
)
def test_codes_and_names_are_trimmed_of_unicode_white_space(label, raw, stored):
    assert label.parse(raw).value == stored


@pytest.mark.parametrize("label", LABELS)
@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (None, ErrorCode.REQUIRED),
        ("", ErrorCode.REQUIRED),
        ("   ", ErrorCode.REQUIRED),
        ("\u3000\u00a0\t", ErrorCode.REQUIRED),
        ("a" * 101, ErrorCode.OUT_OF_RANGE),
        (" " + "a" * 101 + " ", ErrorCode.OUT_OF_RANGE),
        ("MA\nIN", ErrorCode.INVALID),
        ("MA\tIN", ErrorCode.INVALID),
        ("MA\x00IN", ErrorCode.INVALID),
        ("MAIN\x7f", ErrorCode.INVALID),
        ("\x9bMAIN", ErrorCode.INVALID),
        ("MAIN\x1f", ErrorCode.INVALID),  # U+001F is a control character, not white space
        ("\x1cMAIN", ErrorCode.INVALID),
    ],
)
def test_a_blank_overlong_or_control_character_label_is_rejected(label, raw, code):
    assert code_of(label.parse, raw) is code


def test_exactly_unicodes_control_characters_are_refused_inside_a_name():
    refused = set()
    for point in range(sys.maxunicode + 1):
        ch = chr(point)
        if 0xD800 <= point <= 0xDFFF:
            continue  # lone surrogates cannot reach us: JSON bodies decode to valid text
        try:
            ServerName.parse(f"a{ch}b")
        except InvalidValueError:
            refused.add(point)
    assert refused == {p for p in range(sys.maxunicode + 1) if unicodedata.category(chr(p)) == "Cc"}


@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        ("mail.example.com", "mail.example.com"),
        ("Mail.Example.COM", "mail.example.com"),
        ("  mail.example.com\u3000", "mail.example.com"),
        ("mail.example.com.", "mail.example.com"),
        ("localhost", "localhost"),
        ("a-b.c--d.example", "a-b.c--d.example"),
        ("1mail.example.com", "1mail.example.com"),
        ("xn--bcher-kva.de", "xn--bcher-kva.de"),
        ("bücher.de", "xn--bcher-kva.de"),
        ("BÜCHER.de.", "xn--bcher-kva.de"),
        ("a" * 63 + ".com", "a" * 63 + ".com"),
        (LONGEST_HOST, LONGEST_HOST),
        ("192.168.0.1", "192.168.0.1"),
        (" 10.0.0.1 ", "10.0.0.1"),
        ("::1", "::1"),
        ("2001:DB8::1", "2001:db8::1"),
        ("2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1"),
    ],
)
def test_a_host_is_stored_trimmed_lower_case_and_in_idna_form(raw, stored):
    assert HostName.parse(raw).value == stored


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (None, ErrorCode.REQUIRED),
        ("", ErrorCode.REQUIRED),
        (" \t\u3000", ErrorCode.REQUIRED),
        ("mail example.com", ErrorCode.INVALID),
        ("mail_server.example.com", ErrorCode.INVALID),
        ("mail..example.com", ErrorCode.INVALID),
        (".example.com", ErrorCode.INVALID),
        ("example.com..", ErrorCode.INVALID),
        (".", ErrorCode.INVALID),
        ("-mail.example.com", ErrorCode.INVALID),
        ("mail-.example.com", ErrorCode.INVALID),
        ("a" * 64 + ".com", ErrorCode.INVALID),
        ("*.example.com", ErrorCode.INVALID),
        ("mail.example.com:25", ErrorCode.INVALID),
        ("smtp://mail.example.com", ErrorCode.INVALID),
        ("mail.example.com\x00", ErrorCode.INVALID),
        ("\x1fmail.example.com", ErrorCode.INVALID),
        ("bü cher.de", ErrorCode.INVALID),
        ("bü_cher.de", ErrorCode.INVALID),
        ("[::1]", ErrorCode.INVALID),
        ("[2001:db8::1]", ErrorCode.INVALID),
        ("fe80::1%eth0", ErrorCode.INVALID),
        ("2001:db8:::1", ErrorCode.INVALID),
        ("256.1.1.1", ErrorCode.INVALID),
        ("1.2.3", ErrorCode.INVALID),
        ("01.2.3.4", ErrorCode.INVALID),
        (LONGEST_HOST + "b", ErrorCode.OUT_OF_RANGE),
        ("a" * 300, ErrorCode.OUT_OF_RANGE),
        # 229 characters as typed, over 253 in IDNA form
        (".".join(["bücher" + "ö" * 39] * 5), ErrorCode.OUT_OF_RANGE),
    ],
)
def test_a_host_that_is_no_dns_name_or_ip_address_is_rejected(raw, code):
    assert code_of(HostName.parse, raw) is code


@pytest.mark.parametrize("raw", [1, 25, 65535])
def test_a_port_from_1_to_65535_is_accepted(raw):
    assert Port.parse(raw).value == raw


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (0, ErrorCode.OUT_OF_RANGE),
        (-25, ErrorCode.OUT_OF_RANGE),
        (65536, ErrorCode.OUT_OF_RANGE),
        (None, ErrorCode.REQUIRED),
        (True, ErrorCode.INVALID),
    ],
)
def test_a_port_outside_1_to_65535_is_rejected(raw, code):
    assert code_of(Port.parse, raw) is code


@pytest.mark.parametrize("raw", [10, 60, 120])
def test_a_timeout_from_10_to_120_seconds_is_accepted(raw):
    assert Timeout.parse(raw).value == raw


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (9, ErrorCode.OUT_OF_RANGE),
        (121, ErrorCode.OUT_OF_RANGE),
        (0, ErrorCode.OUT_OF_RANGE),
        (None, ErrorCode.REQUIRED),
    ],
)
def test_a_timeout_outside_10_to_120_seconds_is_rejected(raw, code):
    assert code_of(Timeout.parse, raw) is code
