import pytest

from domain.decide import decide
from domain.errors import ErrorCode
from domain.events import AllServersDeleted, ServerChanged, ServerDeleted
from domain.values import SmtpAuthMethod, SmtpCredentials, SmtpEncryption

from .builders import (
    GOOGLE,
    IMAP4,
    MICROSOFT,
    POP3,
    Log,
    added,
    change,
    given,
    manual,
    oauth,
    problems,
    problems_raised,
)

REQUIRED, INVALID, OUT_OF_RANGE = ErrorCode.REQUIRED, ErrorCode.INVALID, ErrorCode.OUT_OF_RANGE
NOT_APPLICABLE, SET_AUTOMATICALLY = ErrorCode.NOT_APPLICABLE, ErrorCode.SET_AUTOMATICALLY
PLAIN, SENDING = SmtpAuthMethod.PLAIN, SmtpCredentials.SENDING_ACCOUNT

PLAIN_AUTH = {"outgoing.authMethod": "PLAIN", "outgoing.credentials": "SENDING_ACCOUNT"}


def changes_of(command, state):
    (event,) = decide(command, state)
    assert isinstance(event, ServerChanged)
    assert event.server_id == command.server_id
    return [(c.field, c.before, c.after) for c in event.changes]


@pytest.mark.parametrize(
    "history",
    [
        [],
        [added("s2", code="OTHER")],
        [added("s1"), ServerDeleted(server_id="s1", code="MAIN", name="Main server")],
        [added("s1"), AllServersDeleted(server_ids=("s1",))],
    ],
    ids=["empty", "other server", "deleted", "all deleted"],
)
def test_changing_a_server_that_is_not_live_is_not_found(history):
    assert problems_raised(change("s1", name="New"), given(*history)) == problems(("id", ErrorCode.NOT_FOUND))


@pytest.mark.parametrize("expected_version", [0, 1, 2, 4])
def test_a_stale_expected_version_is_a_conflict(expected_version):
    log = Log(added("s1"))
    log.run(change("s1", name="Two"))
    log.run(change("s1", name="Three"))
    command = change("s1", name="Four", expected_version=expected_version)
    assert problems_raised(command, log.state) == problems(("expectedVersion", ErrorCode.VERSION_CONFLICT))


def test_the_current_expected_version_lets_the_change_through():
    log = Log(added("s1"), added("s2", code="B"))
    log.run(change("s1", name="Two"))
    assert changes_of(change("s1", name="Three", expected_version=2), log.state) == [("name", "Two", "Three")]


@pytest.mark.parametrize(
    ("server", "command", "expected"),
    [
        (manual(), change(code="NEW"), [("code", "MAIN", "NEW")]),
        (manual(), change(code=" NEW\u3000"), [("code", "MAIN", "NEW")]),
        (manual(), change(name="Other name"), [("name", "Main server", "Other name")]),
        (
            manual(),
            change(outgoing={"host": " SMTP.Other.ORG. "}),
            [("outgoing.host", "smtp.example.com", "smtp.other.org")],
        ),
        (manual(), change(outgoing={"host": "bücher.de"}), [("outgoing.host", "smtp.example.com", "xn--bcher-kva.de")]),
        (manual(), change(incoming={"host": "2001:DB8::1"}), [("incoming.host", "pop.example.com", "2001:db8::1")]),
        (manual(), change(outgoing={"port": 587}), [("outgoing.port", 25, 587)]),
        (manual(), change(incoming={"port": 995}), [("incoming.port", 110, 995)]),
        (
            manual(),
            change(outgoing={"encryption": SmtpEncryption.STARTTLS}),
            [("outgoing.encryption", "NONE", "STARTTLS")],
        ),
        (
            manual(**{"outgoing.encryption": "TLS"}),
            change(outgoing={"encryption": SmtpEncryption.NONE}),
            [("outgoing.encryption", "TLS", "NONE")],
        ),
        (
            manual(),
            change(outgoing={"auth_method": PLAIN, "credentials": SENDING}),
            [("outgoing.authMethod", "NONE", "PLAIN"), ("outgoing.credentials", None, "SENDING_ACCOUNT")],
        ),
        (
            manual(**PLAIN_AUTH),
            change(outgoing={"auth_method": SmtpAuthMethod.CRAM_MD5}),
            [("outgoing.authMethod", "PLAIN", "CRAM_MD5")],
        ),
        (
            manual(**PLAIN_AUTH),
            change(outgoing={"credentials": SmtpCredentials.RECEIVING_ACCOUNT}),
            [("outgoing.credentials", "SENDING_ACCOUNT", "RECEIVING_ACCOUNT")],
        ),
        (
            manual(**PLAIN_AUTH),
            change(outgoing={"auth_method": SmtpAuthMethod.NONE}),
            [("outgoing.authMethod", "PLAIN", "NONE"), ("outgoing.credentials", "SENDING_ACCOUNT", None)],
        ),
        (manual(), change(outgoing={"timeout_seconds": 10}), [("outgoing.timeoutSeconds", 60, 10)]),
        (manual(), change(incoming={"timeout_seconds": 120}), [("incoming.timeoutSeconds", 60, 120)]),
        (manual(), change(incoming={"protocol": IMAP4}), [("incoming.protocol", "POP3", "IMAP4")]),
        (
            manual(protocol=IMAP4),
            change(incoming={"protocol": POP3, "use_apop": True}),
            [("incoming.protocol", "IMAP4", "POP3"), ("incoming.useApop", False, True)],
        ),
        (manual(), change(incoming={"use_tls": True}), [("incoming.useTls", False, True)]),
        (manual(), change(incoming={"use_apop": True}), [("incoming.useApop", False, True)]),
        (
            manual(**{"incoming.useApop": True}),
            change(incoming={"use_apop": False}),
            [("incoming.useApop", True, False)],
        ),
        (
            manual(),
            change(
                code="NEW",
                outgoing={"port": 465, "encryption": SmtpEncryption.TLS},
                incoming={"use_tls": True, "timeout_seconds": 30},
            ),
            [
                ("code", "MAIN", "NEW"),
                ("outgoing.port", 25, 465),
                ("outgoing.encryption", "NONE", "TLS"),
                ("incoming.useTls", False, True),
                ("incoming.timeoutSeconds", 60, 30),
            ],
        ),
    ],
)
def test_a_change_lists_exactly_the_changed_fields_as_api_values(server, command, expected):
    assert changes_of(command, given(added("s1", server))) == expected


@pytest.mark.parametrize(
    ("server", "command"),
    [
        (manual(), change()),
        (manual(), change(expected_version=1)),
        (manual(), change(code="MAIN")),
        (manual(), change(code="  MAIN\t")),
        (manual(), change(name="Main server")),
        (manual(), change(outgoing={"host": "SMTP.example.com."})),
        (manual(), change(outgoing={"port": 25, "encryption": SmtpEncryption.NONE})),
        (manual(), change(outgoing={"auth_method": SmtpAuthMethod.NONE, "timeout_seconds": 60})),
        (manual(), change(incoming={"protocol": POP3, "use_tls": False, "use_apop": False})),
        (manual(**PLAIN_AUTH), change(outgoing={"auth_method": PLAIN, "credentials": SENDING})),
        (oauth(provider=GOOGLE), change(oauth_provider=GOOGLE)),
        (oauth(provider=GOOGLE), change(incoming={"protocol": IMAP4, "use_apop": False})),
        (oauth(provider=MICROSOFT), change(outgoing={"timeout_seconds": 60}, incoming={"timeout_seconds": 60})),
        (oauth(provider=MICROSOFT), change(outgoing={"host": None, "port": None}, incoming={"use_tls": None})),
    ],
)
def test_a_change_that_changes_nothing_yields_no_events(server, command):
    assert decide(command, given(added("s1", server))) == ()


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        (change(code=""), [("code", REQUIRED)]),
        (change(code=None), [("code", REQUIRED)]),
        (change(code="c" * 101), [("code", OUT_OF_RANGE)]),
        (change(code="MA\u0000IN"), [("code", INVALID)]),
        (change(name=" "), [("name", REQUIRED)]),
        (change(name="n" * 101), [("name", OUT_OF_RANGE)]),
        (change(name="line\nbreak"), [("name", INVALID)]),
        (change(outgoing={"host": None}), [("outgoing.host", REQUIRED)]),
        (change(outgoing={"host": "smtp example.com"}), [("outgoing.host", INVALID)]),
        (change(outgoing={"host": "[::1]"}), [("outgoing.host", INVALID)]),
        (change(incoming={"host": "x" * 254}), [("incoming.host", OUT_OF_RANGE)]),
        (change(incoming={"host": "a.-b.com"}), [("incoming.host", INVALID)]),
        (change(outgoing={"port": None}), [("outgoing.port", REQUIRED)]),
        (change(outgoing={"port": 0}), [("outgoing.port", OUT_OF_RANGE)]),
        (change(incoming={"port": 65536}), [("incoming.port", OUT_OF_RANGE)]),
        (change(outgoing={"timeout_seconds": 9}), [("outgoing.timeoutSeconds", OUT_OF_RANGE)]),
        (change(incoming={"timeout_seconds": 121}), [("incoming.timeoutSeconds", OUT_OF_RANGE)]),
        (change(incoming={"protocol": None}), [("incoming.protocol", REQUIRED)]),
        (change(outgoing={"auth_method": SmtpAuthMethod.XOAUTH2}), [("outgoing.authMethod", INVALID)]),
        (change(outgoing={"auth_method": SmtpAuthMethod.LOGIN}), [("outgoing.credentials", REQUIRED)]),
        (change(outgoing={"credentials": SENDING}), [("outgoing.credentials", NOT_APPLICABLE)]),
        (change(incoming={"protocol": IMAP4, "use_apop": True}), [("incoming.useApop", NOT_APPLICABLE)]),
        (
            change(code="", outgoing={"port": 0}, incoming={"host": "pop_example.com"}),
            [("code", REQUIRED), ("outgoing.port", OUT_OF_RANGE), ("incoming.host", INVALID)],
        ),
    ],
)
def test_a_changed_field_that_breaks_its_rule_is_reported_at_its_path(command, expected):
    assert problems_raised(command, given(added("s1", manual()))) == problems(*expected)


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        (change(outgoing={"credentials": None}), [("outgoing.credentials", REQUIRED)]),
        (
            change(outgoing={"credentials": SENDING, "auth_method": SmtpAuthMethod.NONE}),
            [("outgoing.credentials", NOT_APPLICABLE)],
        ),
    ],
)
def test_credentials_follow_the_authentication_method_of_the_result(command, expected):
    assert problems_raised(command, given(added("s1", manual(**PLAIN_AUTH)))) == problems(*expected)


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("OTHER", [("code", ErrorCode.CODE_ALREADY_EXISTS)]),
        (" OTHER ", [("code", ErrorCode.CODE_ALREADY_EXISTS)]),
        ("other", []),
        ("GONE", []),
    ],
)
def test_a_changed_code_must_not_be_held_by_another_live_server(code, expected):
    state = given(
        added("s1", code="MAIN"),
        added("s2", code="OTHER"),
        added("s3", code="GONE"),
        ServerDeleted(server_id="s3", code="GONE", name="Main server"),
    )
    if expected:
        assert problems_raised(change("s1", code=code), state) == problems(*expected)
    else:
        assert changes_of(change("s1", code=code), state) == [("code", "MAIN", code)]


def test_changing_a_manual_servers_protocol_to_imap4_clears_apop():
    state = given(added("s1", manual(**{"incoming.useApop": True})))
    assert changes_of(change("s1", incoming={"protocol": IMAP4}), state) == [
        ("incoming.protocol", "POP3", "IMAP4"),
        ("incoming.useApop", True, False),
    ]


OAUTH_PROTOCOL_SWITCHES = [
    (
        GOOGLE,
        POP3,
        IMAP4,
        [
            ("incoming.protocol", "POP3", "IMAP4"),
            ("incoming.host", "pop.gmail.com", "imap.gmail.com"),
            ("incoming.port", 995, 993),
        ],
    ),
    (
        GOOGLE,
        IMAP4,
        POP3,
        [
            ("incoming.protocol", "IMAP4", "POP3"),
            ("incoming.host", "imap.gmail.com", "pop.gmail.com"),
            ("incoming.port", 993, 995),
        ],
    ),
    (MICROSOFT, POP3, IMAP4, [("incoming.protocol", "POP3", "IMAP4"), ("incoming.port", 995, 993)]),
    (MICROSOFT, IMAP4, POP3, [("incoming.protocol", "IMAP4", "POP3"), ("incoming.port", 993, 995)]),
]


@pytest.mark.parametrize(("provider", "before", "after", "expected"), OAUTH_PROTOCOL_SWITCHES)
def test_changing_an_oauth_servers_protocol_re_derives_host_and_port(provider, before, after, expected):
    state = given(added("s1", oauth(provider=provider, protocol=before)))
    assert changes_of(change("s1", incoming={"protocol": after}), state) == expected


@pytest.mark.parametrize("provider", [GOOGLE, MICROSOFT])
def test_an_oauth_servers_timeouts_and_labels_stay_editable(provider):
    state = given(added("s1", oauth("MAIL", provider=provider)))
    command = change("s1", code="NEW", name="New", outgoing={"timeout_seconds": 15}, incoming={"timeout_seconds": 90})
    assert changes_of(command, state) == [
        ("code", "MAIL", "NEW"),
        ("name", "OAuth server", "New"),
        ("outgoing.timeoutSeconds", 60, 15),
        ("incoming.timeoutSeconds", 60, 90),
    ]


OAUTH_SERVER_PRESET_FIELDS = [
    (GOOGLE, "outgoing", "host", "smtp.gmail.com"),
    (GOOGLE, "outgoing", "port", 465),
    (GOOGLE, "outgoing", "encryption", SmtpEncryption.TLS),
    (GOOGLE, "outgoing", "auth_method", SmtpAuthMethod.XOAUTH2),
    (GOOGLE, "outgoing", "credentials", SENDING),
    (GOOGLE, "incoming", "host", "imap.gmail.com"),
    (GOOGLE, "incoming", "port", 993),
    (GOOGLE, "incoming", "use_tls", True),
    (MICROSOFT, "outgoing", "host", "mail.example.com"),
    (MICROSOFT, "outgoing", "port", 587),
    (MICROSOFT, "outgoing", "encryption", SmtpEncryption.NONE),
    (MICROSOFT, "outgoing", "auth_method", PLAIN),
    (MICROSOFT, "outgoing", "credentials", SmtpCredentials.RECEIVING_ACCOUNT),
    (MICROSOFT, "incoming", "host", "outlook.office365.com"),
    (MICROSOFT, "incoming", "port", 143),
    (MICROSOFT, "incoming", "use_tls", False),
]
API_NAMES = {"auth_method": "authMethod", "use_tls": "useTls"}


@pytest.mark.parametrize(("provider", "side", "key", "value"), OAUTH_SERVER_PRESET_FIELDS)
def test_a_preset_field_sent_to_an_oauth_server_is_set_automatically(provider, side, key, value):
    state = given(added("s1", oauth(provider=provider)))
    path = f"{side}.{API_NAMES.get(key, key)}"
    assert problems_raised(change("s1", **{side: {key: value}}), state) == problems((path, SET_AUTOMATICALLY))


@pytest.mark.parametrize("provider", [GOOGLE, MICROSOFT])
def test_preset_fields_sent_as_null_to_an_oauth_server_count_as_not_sent(provider):
    state = given(added("s1", oauth(provider=provider)))
    command = change(
        "s1",
        outgoing={
            "host": None,
            "port": None,
            "encryption": None,
            "auth_method": None,
            "credentials": None,
            "timeout_seconds": 30,
        },
        incoming={"host": None, "port": None, "use_tls": None, "use_apop": None},
    )
    assert changes_of(command, state) == [("outgoing.timeoutSeconds", 60, 30)]


@pytest.mark.parametrize("provider", [GOOGLE, MICROSOFT])
def test_apop_on_an_oauth_server_is_not_applicable(provider):
    state = given(added("s1", oauth(provider=provider, protocol=POP3)))
    command = change("s1", incoming={"use_apop": True})
    assert problems_raised(command, state) == problems(("incoming.useApop", NOT_APPLICABLE))


def test_switching_the_oauth_provider_re_derives_every_preset_field():
    state = given(added("s1", oauth(provider=GOOGLE, protocol=POP3)))
    assert changes_of(change("s1", oauth_provider=MICROSOFT), state) == [
        ("oauthProvider", "GOOGLE", "MICROSOFT"),
        ("outgoing.host", "smtp.gmail.com", "smtp.office365.com"),
        ("outgoing.port", 465, 587),
        ("outgoing.encryption", "TLS", "STARTTLS"),
        ("incoming.host", "pop.gmail.com", "outlook.office365.com"),
    ]


@pytest.mark.parametrize(
    ("outgoing", "incoming", "missing"),
    [
        ({}, {}, ["outgoing.host", "outgoing.port", "incoming.host", "incoming.port"]),
        ({"host": "smtp.example.com"}, {"port": 110}, ["outgoing.port", "incoming.host"]),
        ({"host": None, "port": 25}, {"host": "pop.example.com", "port": None}, ["outgoing.host", "incoming.port"]),
        ({"host": "smtp.example.com", "port": 25}, {"host": "pop.example.com"}, ["incoming.port"]),
    ],
)
def test_turning_oauth_off_requires_the_manual_hosts_and_ports(outgoing, incoming, missing):
    state = given(added("s1", oauth(provider=GOOGLE)))
    command = change("s1", oauth_provider=None, outgoing=outgoing, incoming=incoming)
    assert problems_raised(command, state) == problems(*[(path, REQUIRED) for path in missing])


@pytest.mark.parametrize("provider", [GOOGLE, MICROSOFT])
def test_turning_oauth_off_takes_defaults_for_what_is_not_given(provider):
    log = Log(added("s1", oauth(provider=provider, protocol=IMAP4, timeouts=(20, 30))))
    log.run(
        change(
            "s1",
            oauth_provider=None,
            outgoing={"host": "smtp.example.com", "port": 25},
            incoming={"host": "imap.example.com", "port": 143},
        )
    )
    assert log.state.servers["s1"].settings == manual(
        "MAIL", name="OAuth server", protocol=IMAP4, **{"outgoing.timeoutSeconds": 20, "incoming.timeoutSeconds": 30}
    )


def test_turning_oauth_off_lists_every_field_that_moved_off_the_preset():
    state = given(added("s1", oauth(provider=MICROSOFT, protocol=IMAP4)))
    command = change(
        "s1",
        oauth_provider=None,
        outgoing={"host": "smtp.office365.com", "port": 587},
        incoming={"host": "outlook.office365.com", "port": 993},
    )
    assert changes_of(command, state) == [
        ("oauthProvider", "MICROSOFT", None),
        ("outgoing.encryption", "STARTTLS", "NONE"),
        ("outgoing.authMethod", "XOAUTH2", "NONE"),
        ("incoming.useTls", True, False),
    ]


def test_turning_oauth_off_takes_the_manual_values_given():
    state = given(added("s1", oauth(provider=GOOGLE, protocol=IMAP4)))
    command = change(
        "s1",
        oauth_provider=None,
        outgoing={
            "host": "smtp.example.com",
            "port": 587,
            "encryption": SmtpEncryption.STARTTLS,
            "auth_method": SmtpAuthMethod.LOGIN,
            "credentials": SmtpCredentials.RECEIVING_ACCOUNT,
        },
        incoming={"protocol": POP3, "host": "pop.example.com", "port": 995, "use_tls": True, "use_apop": True},
    )
    assert changes_of(command, state) == [
        ("oauthProvider", "GOOGLE", None),
        ("outgoing.host", "smtp.gmail.com", "smtp.example.com"),
        ("outgoing.port", 465, 587),
        ("outgoing.encryption", "TLS", "STARTTLS"),
        ("outgoing.authMethod", "XOAUTH2", "LOGIN"),
        ("outgoing.credentials", None, "RECEIVING_ACCOUNT"),
        ("incoming.protocol", "IMAP4", "POP3"),
        ("incoming.host", "imap.gmail.com", "pop.example.com"),
        ("incoming.port", 993, 995),
        ("incoming.useApop", False, True),
    ]


def test_turning_oauth_off_still_checks_the_manual_rules():
    state = given(added("s1", oauth(provider=GOOGLE, protocol=IMAP4)))
    command = change(
        "s1",
        oauth_provider=None,
        outgoing={"host": "smtp_example.com", "port": 25, "auth_method": PLAIN},
        incoming={"host": "imap.example.com", "port": 143, "use_apop": True},
    )
    assert problems_raised(command, state) == problems(
        ("outgoing.host", INVALID), ("outgoing.credentials", REQUIRED), ("incoming.useApop", NOT_APPLICABLE)
    )


@pytest.mark.parametrize(
    ("provider", "expected"),
    [
        (
            GOOGLE,
            [
                ("oauthProvider", None, "GOOGLE"),
                ("outgoing.host", "smtp.example.com", "smtp.gmail.com"),
                ("outgoing.port", 25, 465),
                ("outgoing.encryption", "NONE", "TLS"),
                ("outgoing.authMethod", "PLAIN", "XOAUTH2"),
                ("outgoing.credentials", "SENDING_ACCOUNT", None),
                ("incoming.host", "pop.example.com", "pop.gmail.com"),
                ("incoming.port", 110, 995),
                ("incoming.useTls", False, True),
                ("incoming.useApop", True, False),
            ],
        ),
        (
            MICROSOFT,
            [
                ("oauthProvider", None, "MICROSOFT"),
                ("outgoing.host", "smtp.example.com", "smtp.office365.com"),
                ("outgoing.port", 25, 587),
                ("outgoing.encryption", "NONE", "STARTTLS"),
                ("outgoing.authMethod", "PLAIN", "XOAUTH2"),
                ("outgoing.credentials", "SENDING_ACCOUNT", None),
                ("incoming.host", "pop.example.com", "outlook.office365.com"),
                ("incoming.port", 110, 995),
                ("incoming.useTls", False, True),
                ("incoming.useApop", True, False),
            ],
        ),
    ],
)
def test_turning_oauth_on_replaces_the_manual_settings_with_the_preset(provider, expected):
    state = given(added("s1", manual(**PLAIN_AUTH, **{"incoming.useApop": True})))
    assert changes_of(change("s1", oauth_provider=provider), state) == expected


def test_turning_oauth_on_rejects_manual_settings_in_the_same_input():
    state = given(added("s1", manual()))
    command = change(
        "s1", oauth_provider=GOOGLE, outgoing={"host": "smtp.gmail.com"}, incoming={"use_tls": True, "use_apop": True}
    )
    assert problems_raised(command, state) == problems(
        ("outgoing.host", SET_AUTOMATICALLY),
        ("incoming.useTls", SET_AUTOMATICALLY),
        ("incoming.useApop", NOT_APPLICABLE),
    )


def test_turning_oauth_on_can_change_the_protocol_at_the_same_time():
    state = given(added("s1", manual()))
    changes = changes_of(change("s1", oauth_provider=GOOGLE, incoming={"protocol": IMAP4}), state)
    assert ("incoming.protocol", "POP3", "IMAP4") in changes
    assert ("incoming.host", "pop.example.com", "imap.gmail.com") in changes


def test_a_folded_change_gives_the_server_its_new_settings_and_the_next_version():
    log = Log(added("s1", manual()), added("s2", code="OTHER"))
    log.run(change("s1", code="NEW", outgoing={"port": 587}, incoming={"protocol": IMAP4}))
    server = log.state.servers["s1"]
    assert server.settings == manual(
        "NEW", protocol=IMAP4, **{"outgoing.port": 587, "incoming.host": "pop.example.com", "incoming.port": 110}
    )
    assert server.version == 2
    assert log.state.list_version == 2
