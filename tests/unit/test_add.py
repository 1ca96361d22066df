import pytest

from domain.commands import UNSET
from domain.decide import decide
from domain.errors import ErrorCode
from domain.events import AllServersDeleted, ServerAdded, ServerDeleted
from domain.model import Incoming, Outgoing, Settings, fields
from domain.values import SmtpAuthMethod, SmtpCredentials, SmtpEncryption

from .builders import (
    GOOGLE,
    IMAP4,
    MICROSOFT,
    POP3,
    Log,
    add,
    added,
    change,
    given,
    manual,
    problems,
    problems_raised,
)

REQUIRED, INVALID, OUT_OF_RANGE = ErrorCode.REQUIRED, ErrorCode.INVALID, ErrorCode.OUT_OF_RANGE
NOT_APPLICABLE, SET_AUTOMATICALLY = ErrorCode.NOT_APPLICABLE, ErrorCode.SET_AUTOMATICALLY
AUTH_METHODS = [SmtpAuthMethod.PLAIN, SmtpAuthMethod.LOGIN, SmtpAuthMethod.CRAM_MD5, SmtpAuthMethod.DIGEST_MD5]


def added_settings(command, state=None):
    (event,) = decide(command, state or given())
    assert isinstance(event, ServerAdded)
    assert event.server_id == command.server_id
    return event.settings


def test_a_manual_server_takes_the_default_for_every_optional_field():
    assert decide(add("MAIN", "Main server"), given()) == (
        ServerAdded(
            server_id="new",
            settings=Settings(
                code="MAIN",
                name="Main server",
                oauth_provider=None,
                outgoing=Outgoing(
                    host="smtp.example.com",
                    port=25,
                    encryption=SmtpEncryption.NONE,
                    auth_method=SmtpAuthMethod.NONE,
                    credentials=None,
                    timeout_seconds=60,
                ),
                incoming=Incoming(
                    protocol=POP3,
                    host="pop.example.com",
                    port=110,
                    use_tls=False,
                    use_apop=False,
                    timeout_seconds=60,
                ),
            ),
        ),
    )


@pytest.mark.parametrize(
    ("code", "name", "stored"),
    [
        ("  MAIN  ", "  Main server ", ("MAIN", "Main server")),
        ("\u3000MAIN\t", "\u00a0Main server\n", ("MAIN", "Main server")),
        ("M", "n", ("M", "n")),
        ("c" * 100, "n" * 100, ("c" * 100, "n" * 100)),
    ],
)
def test_code_and_name_are_stored_trimmed(code, name, stored):
    settings = added_settings(add(code, name))
    assert (settings.code, settings.name) == stored


@pytest.mark.parametrize(
    ("overrides", "field", "stored"),
    [
        ({"outgoing": {"host": " SMTP.Example.ORG. "}}, "outgoing.host", "smtp.example.org"),
        ({"outgoing": {"host": "bücher.de"}}, "outgoing.host", "xn--bcher-kva.de"),
        ({"outgoing": {"host": "192.0.2.10"}}, "outgoing.host", "192.0.2.10"),
        ({"incoming": {"host": "2001:DB8::25"}}, "incoming.host", "2001:db8::25"),
        ({"incoming": {"host": "Mail.Bücher.de."}}, "incoming.host", "mail.xn--bcher-kva.de"),
        ({"outgoing": {"port": 1}}, "outgoing.port", 1),
        ({"incoming": {"port": 65535}}, "incoming.port", 65535),
        ({"outgoing": {"encryption": SmtpEncryption.TLS}}, "outgoing.encryption", "TLS"),
        ({"outgoing": {"encryption": SmtpEncryption.STARTTLS}}, "outgoing.encryption", "STARTTLS"),
        ({"outgoing": {"encryption": None}}, "outgoing.encryption", "NONE"),
        ({"outgoing": {"auth_method": None}}, "outgoing.authMethod", "NONE"),
        ({"outgoing": {"timeout_seconds": 10}}, "outgoing.timeoutSeconds", 10),
        ({"outgoing": {"timeout_seconds": 120}}, "outgoing.timeoutSeconds", 120),
        ({"incoming": {"timeout_seconds": 10}}, "incoming.timeoutSeconds", 10),
        ({"incoming": {"timeout_seconds": 120}}, "incoming.timeoutSeconds", 120),
        ({"incoming": {"protocol": IMAP4}}, "incoming.protocol", "IMAP4"),
        ({"incoming": {"use_tls": True}}, "incoming.useTls", True),
        ({"incoming": {"use_tls": None}}, "incoming.useTls", False),
        ({"incoming": {"use_apop": True}}, "incoming.useApop", True),
        ({"incoming": {"use_apop": False, "protocol": IMAP4}}, "incoming.useApop", False),
    ],
)
def test_a_valid_manual_setting_is_stored_in_its_normal_form(overrides, field, stored):
    assert fields(added_settings(add(**overrides)))[field] == stored


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"code": ""}, [("code", REQUIRED)]),
        ({"code": " \u3000 "}, [("code", REQUIRED)]),
        ({"code": None}, [("code", REQUIRED)]),
        ({"code": "c" * 101}, [("code", OUT_OF_RANGE)]),
        ({"code": "MA\nIN"}, [("code", INVALID)]),
        ({"code": "MAIN\x00"}, [("code", INVALID)]),
        ({"name": ""}, [("name", REQUIRED)]),
        ({"name": "\t"}, [("name", REQUIRED)]),
        ({"name": "n" * 101}, [("name", OUT_OF_RANGE)]),
        ({"name": "Main\x07server"}, [("name", INVALID)]),
        ({"outgoing": {"host": UNSET}}, [("outgoing.host", REQUIRED)]),
        ({"outgoing": {"host": None}}, [("outgoing.host", REQUIRED)]),
        ({"outgoing": {"host": "  "}}, [("outgoing.host", REQUIRED)]),
        ({"outgoing": {"host": "smtp example.com"}}, [("outgoing.host", INVALID)]),
        ({"outgoing": {"host": "smtp_1.example.com"}}, [("outgoing.host", INVALID)]),
        ({"outgoing": {"host": "smtp..example.com"}}, [("outgoing.host", INVALID)]),
        ({"outgoing": {"host": "[2001:db8::1]"}}, [("outgoing.host", INVALID)]),
        ({"outgoing": {"host": "x" * 64 + ".example.com"}}, [("outgoing.host", INVALID)]),
        ({"outgoing": {"host": "a." * 127 + "a"}}, [("outgoing.host", OUT_OF_RANGE)]),
        ({"incoming": {"host": UNSET}}, [("incoming.host", REQUIRED)]),
        ({"incoming": {"host": "pop example.com"}}, [("incoming.host", INVALID)]),
        ({"incoming": {"host": "pop_example.com"}}, [("incoming.host", INVALID)]),
        ({"incoming": {"host": "[::1]"}}, [("incoming.host", INVALID)]),
        ({"incoming": {"host": "a" * 254}}, [("incoming.host", OUT_OF_RANGE)]),
        ({"outgoing": {"port": UNSET}}, [("outgoing.port", REQUIRED)]),
        ({"outgoing": {"port": None}}, [("outgoing.port", REQUIRED)]),
        ({"outgoing": {"port": 0}}, [("outgoing.port", OUT_OF_RANGE)]),
        ({"outgoing": {"port": 65536}}, [("outgoing.port", OUT_OF_RANGE)]),
        ({"incoming": {"port": UNSET}}, [("incoming.port", REQUIRED)]),
        ({"incoming": {"port": -1}}, [("incoming.port", OUT_OF_RANGE)]),
        ({"incoming": {"port": 70000}}, [("incoming.port", OUT_OF_RANGE)]),
        ({"outgoing": {"timeout_seconds": 9}}, [("outgoing.timeoutSeconds", OUT_OF_RANGE)]),
        ({"outgoing": {"timeout_seconds": 121}}, [("outgoing.timeoutSeconds", OUT_OF_RANGE)]),
        ({"incoming": {"timeout_seconds": 9}}, [("incoming.timeoutSeconds", OUT_OF_RANGE)]),
        ({"incoming": {"timeout_seconds": 121}}, [("incoming.timeoutSeconds", OUT_OF_RANGE)]),
        ({"incoming": {"protocol": UNSET}}, [("incoming.protocol", REQUIRED)]),
        ({"incoming": {"protocol": None}}, [("incoming.protocol", REQUIRED)]),
        ({"outgoing": {"auth_method": SmtpAuthMethod.XOAUTH2}}, [("outgoing.authMethod", INVALID)]),
        ({"incoming": {"protocol": IMAP4, "use_apop": True}}, [("incoming.useApop", NOT_APPLICABLE)]),
        (
            {"outgoing": {"host": UNSET, "port": UNSET}, "incoming": {"host": UNSET, "port": UNSET}},
            [
                ("outgoing.host", REQUIRED),
                ("outgoing.port", REQUIRED),
                ("incoming.host", REQUIRED),
                ("incoming.port", REQUIRED),
            ],
        ),
    ],
)
def test_a_manual_field_that_breaks_its_rule_is_reported_at_its_path(overrides, expected):
    assert problems_raised(add(**overrides), given()) == problems(*expected)


@pytest.mark.parametrize("credentials", list(SmtpCredentials))
@pytest.mark.parametrize("auth_method", AUTH_METHODS)
def test_an_authentication_method_with_credentials_is_accepted(auth_method, credentials):
    command = add(outgoing={"auth_method": auth_method, "credentials": credentials})
    outgoing = added_settings(command).outgoing
    assert (outgoing.auth_method, outgoing.credentials) == (auth_method, credentials)


@pytest.mark.parametrize("credentials", [UNSET, None])
@pytest.mark.parametrize("auth_method", AUTH_METHODS)
def test_credentials_are_required_when_the_authentication_method_is_not_none(auth_method, credentials):
    command = add(outgoing={"auth_method": auth_method, "credentials": credentials})
    assert problems_raised(command, given()) == problems(("outgoing.credentials", REQUIRED))


@pytest.mark.parametrize("credentials", list(SmtpCredentials))
@pytest.mark.parametrize("auth_method", [UNSET, None, SmtpAuthMethod.NONE])
def test_credentials_are_not_applicable_without_authentication(auth_method, credentials):
    command = add(outgoing={"auth_method": auth_method, "credentials": credentials})
    assert problems_raised(command, given()) == problems(("outgoing.credentials", NOT_APPLICABLE))


def test_xoauth2_without_oauth_is_invalid_even_with_credentials():
    command = add(outgoing={"auth_method": SmtpAuthMethod.XOAUTH2, "credentials": SmtpCredentials.SENDING_ACCOUNT})
    assert problems_raised(command, given()) == problems(("outgoing.authMethod", INVALID))


def test_apop_is_accepted_for_pop3_without_oauth():
    assert added_settings(add(incoming={"protocol": POP3, "use_apop": True})).incoming.use_apop is True


OAUTH_PRESETS = [
    (
        GOOGLE,
        POP3,
        Outgoing(host="smtp.gmail.com", port=465, encryption=SmtpEncryption.TLS, auth_method=SmtpAuthMethod.XOAUTH2),
        Incoming(protocol=POP3, host="pop.gmail.com", port=995, use_tls=True),
    ),
    (
        GOOGLE,
        IMAP4,
        Outgoing(host="smtp.gmail.com", port=465, encryption=SmtpEncryption.TLS, auth_method=SmtpAuthMethod.XOAUTH2),
        Incoming(protocol=IMAP4, host="imap.gmail.com", port=993, use_tls=True),
    ),
    (
        MICROSOFT,
        POP3,
        Outgoing(
            host="smtp.office365.com", port=587, encryption=SmtpEncryption.STARTTLS, auth_method=SmtpAuthMethod.XOAUTH2
        ),
        Incoming(protocol=POP3, host="outlook.office365.com", port=995, use_tls=True),
    ),
    (
        MICROSOFT,
        IMAP4,
        Outgoing(
            host="smtp.office365.com", port=587, encryption=SmtpEncryption.STARTTLS, auth_method=SmtpAuthMethod.XOAUTH2
        ),
        Incoming(protocol=IMAP4, host="outlook.office365.com", port=993, use_tls=True),
    ),
]


@pytest.mark.parametrize(("provider", "protocol", "outgoing", "incoming"), OAUTH_PRESETS)
def test_an_oauth_server_gets_its_providers_preset(provider, protocol, outgoing, incoming):
    settings = added_settings(add(oauth_provider=provider, incoming={"protocol": protocol}))
    assert settings == Settings(
        code="MAIN", name="Main server", oauth_provider=provider, outgoing=outgoing, incoming=incoming
    )


@pytest.mark.parametrize("provider", [GOOGLE, MICROSOFT])
def test_an_oauth_server_takes_the_timeouts_it_is_given(provider):
    command = add(oauth_provider=provider, outgoing={"timeout_seconds": 10}, incoming={"timeout_seconds": 120})
    settings = added_settings(command)
    assert (settings.outgoing.timeout_seconds, settings.incoming.timeout_seconds) == (10, 120)


@pytest.mark.parametrize("provider", [GOOGLE, MICROSOFT])
def test_an_oauth_server_needs_a_protocol(provider):
    command = add(oauth_provider=provider, incoming={"protocol": UNSET})
    assert problems_raised(command, given()) == problems(("incoming.protocol", REQUIRED))


@pytest.mark.parametrize("provider", [GOOGLE, MICROSOFT])
def test_an_oauth_server_rejects_bad_timeouts(provider):
    command = add(oauth_provider=provider, outgoing={"timeout_seconds": 5}, incoming={"timeout_seconds": 500})
    assert problems_raised(command, given()) == problems(
        ("outgoing.timeoutSeconds", OUT_OF_RANGE), ("incoming.timeoutSeconds", OUT_OF_RANGE)
    )


# Each preset field, sent with a value: the preset's own where there is one.
PRESET_FIELDS = {
    GOOGLE: [
        ("outgoing", "host", "smtp.gmail.com"),
        ("outgoing", "host", "smtp.example.com"),
        ("outgoing", "port", 465),
        ("outgoing", "port", 25),
        ("outgoing", "encryption", SmtpEncryption.TLS),
        ("outgoing", "encryption", SmtpEncryption.NONE),
        ("outgoing", "auth_method", SmtpAuthMethod.XOAUTH2),
        ("outgoing", "auth_method", SmtpAuthMethod.NONE),
        ("outgoing", "credentials", SmtpCredentials.SENDING_ACCOUNT),
        ("incoming", "host", "imap.gmail.com"),
        ("incoming", "host", "imap.example.com"),
        ("incoming", "port", 993),
        ("incoming", "port", 143),
        ("incoming", "use_tls", True),
        ("incoming", "use_tls", False),
    ],
    MICROSOFT: [
        ("outgoing", "host", "smtp.office365.com"),
        ("outgoing", "port", 587),
        ("outgoing", "encryption", SmtpEncryption.STARTTLS),
        ("outgoing", "auth_method", SmtpAuthMethod.XOAUTH2),
        ("outgoing", "credentials", SmtpCredentials.RECEIVING_ACCOUNT),
        ("incoming", "host", "outlook.office365.com"),
        ("incoming", "port", 993),
        ("incoming", "use_tls", True),
    ],
}
API_NAMES = {"auth_method": "authMethod", "use_tls": "useTls"}


@pytest.mark.parametrize(
    ("provider", "side", "key", "value"),
    [(provider, *case) for provider, cases in PRESET_FIELDS.items() for case in cases],
)
def test_a_preset_field_sent_with_oauth_is_set_automatically(provider, side, key, value):
    command = add(oauth_provider=provider, **{side: {key: value}})
    path = f"{side}.{API_NAMES.get(key, key)}"
    assert problems_raised(command, given()) == problems((path, SET_AUTOMATICALLY))


def manual_outgoing_input():
    return {
        "host": "smtp.example.com",
        "port": 25,
        "encryption": SmtpEncryption.NONE,
        "auth_method": SmtpAuthMethod.PLAIN,
        "credentials": SmtpCredentials.SENDING_ACCOUNT,
    }


@pytest.mark.parametrize("provider", [GOOGLE, MICROSOFT])
def test_every_preset_field_sent_with_oauth_is_reported_at_once(provider):
    command = add(
        oauth_provider=provider,
        outgoing=dict(manual_outgoing_input()),
        incoming=dict(protocol=POP3, host="pop.example.com", port=110, use_tls=False, use_apop=True),
    )
    assert problems_raised(command, given()) == problems(
        *[
            (f"outgoing.{key}", SET_AUTOMATICALLY)
            for key in ("host", "port", "encryption", "authMethod", "credentials")
        ],
        *[(f"incoming.{key}", SET_AUTOMATICALLY) for key in ("host", "port", "useTls")],
        ("incoming.useApop", NOT_APPLICABLE),
    )


@pytest.mark.parametrize("provider", [GOOGLE, MICROSOFT])
def test_a_preset_field_sent_as_null_with_oauth_counts_as_not_sent(provider):
    command = add(
        oauth_provider=provider,
        outgoing={"host": None, "port": None, "encryption": None, "auth_method": None, "credentials": None},
        incoming={"protocol": POP3, "host": None, "port": None, "use_tls": None, "use_apop": None},
    )
    plain = add(oauth_provider=provider, incoming={"protocol": POP3})
    assert added_settings(command) == added_settings(plain)


@pytest.mark.parametrize("protocol", [POP3, IMAP4])
@pytest.mark.parametrize("provider", [GOOGLE, MICROSOFT])
def test_apop_with_oauth_is_not_applicable_when_true_and_accepted_when_false(provider, protocol):
    def command(use_apop):
        return add(oauth_provider=provider, incoming={"protocol": protocol, "use_apop": use_apop})

    assert problems_raised(command(True), given()) == problems(("incoming.useApop", NOT_APPLICABLE))
    assert added_settings(command(False)).incoming.use_apop is False


@pytest.mark.parametrize(
    ("taken", "code", "expected"),
    [
        ("MAIN", "MAIN", [("code", ErrorCode.CODE_ALREADY_EXISTS)]),
        ("MAIN", "  MAIN\u3000", [("code", ErrorCode.CODE_ALREADY_EXISTS)]),
        ("MAIN", "main", []),
        ("MAIN", "MAIN2", []),
        ("MAIN", "MA IN", []),
    ],
)
def test_a_code_must_be_unique_among_live_servers_by_exact_match(taken, code, expected):
    state = given(added("s1", code=taken), added("s2", code="OTHER"))
    if expected:
        assert problems_raised(add(code), state) == problems(*expected)
    else:
        assert added_settings(add(code), state).code == code


@pytest.mark.parametrize(
    "history",
    [
        [added("s1", code="MAIN"), ServerDeleted(server_id="s1", code="MAIN", name="Main server")],
        [added("s1", code="MAIN"), added("s2", code="X"), AllServersDeleted(server_ids=("s1", "s2"))],
    ],
    ids=["deleted", "all deleted"],
)
def test_a_deleted_servers_code_can_be_reused(history):
    assert added_settings(add("MAIN"), given(*history)).code == "MAIN"


def test_a_code_given_up_by_a_change_can_be_reused():
    log = Log(added("s1", code="MAIN"))
    log.run(change("s1", code="OLD"))
    assert added_settings(add("MAIN"), log.state).code == "MAIN"


def test_a_name_may_repeat_across_servers():
    state = given(added("s1", code="A", name="Same name"))
    assert added_settings(add("B", "Same name"), state).name == "Same name"


def test_every_bad_field_is_reported_at_once():
    command = add("", outgoing={"port": 0}, incoming={"host": "pop_example.com"})
    assert problems_raised(command, given()) == problems(
        ("code", REQUIRED), ("outgoing.port", OUT_OF_RANGE), ("incoming.host", INVALID)
    )


def test_a_taken_code_is_reported_together_with_the_other_problems():
    state = given(added("s1", code="MAIN"))
    command = add(
        "MAIN",
        "n" * 101,
        outgoing={"auth_method": SmtpAuthMethod.XOAUTH2},
        incoming={"protocol": IMAP4, "use_apop": True, "timeout_seconds": 1},
    )
    assert problems_raised(command, state) == problems(
        ("code", ErrorCode.CODE_ALREADY_EXISTS),
        ("name", OUT_OF_RANGE),
        ("outgoing.authMethod", INVALID),
        ("incoming.useApop", NOT_APPLICABLE),
        ("incoming.timeoutSeconds", OUT_OF_RANGE),
    )


def test_a_new_server_goes_to_the_end_of_the_list():
    log = Log(added("s1", code="A"), added("s2", code="B"))
    (event,) = log.run(add("C", server_id="s3"))
    assert event.position == 3
    assert log.state.order == ("s1", "s2", "s3")
    assert [log.state.position_of(i) for i in ("s1", "s2", "s3")] == [1, 2, 3]


def test_a_manual_settings_builder_matches_a_manual_add():
    assert added_settings(add("MAIN", "Main server")) == manual("MAIN")
