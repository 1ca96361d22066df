import random
from collections import Counter

import pytest
from hypothesis import given as for_all
from hypothesis import settings
from hypothesis import strategies as st

from domain.commands import DeleteAllServers, DeleteServer, ReorderServers, RestoreServers
from domain.decide import decide
from domain.errors import ErrorCode, MailServerError
from domain.events import (
    AllServersDeleted,
    ServerAdded,
    ServerChanged,
    ServerDeleted,
    ServersReordered,
    changes_membership_or_order,
)
from domain.state import ServerList, evolve, fold_events

from .builders import GOOGLE, IMAP4, Log, add, added, at, change, manual, oauth, problems, problems_raised

THREE = [added("s1", code="A"), added("s2", code="B"), added("s3", code="C")]


def restored(log, target, expected_list_version=None):
    """Decide a restore on the log's state, check every intermediate state, append it."""
    events = decide(RestoreServers(target=target, expected_list_version=expected_list_version), log.state)
    start = len(log.records)
    log.append(*events)
    state = fold_events(log.records[:start])
    for index, (event, meta) in enumerate(log.records[start:]):
        state = evolve(state, event, meta)
        assert_valid(state)
        assert not isinstance(event, ServersReordered) or index == len(events) - 1
    return events


def assert_valid(state):
    codes = Counter(server.code for server in state.servers.values())
    assert [code for code, n in codes.items() if n > 1] == []
    assert all(0 < len(code) <= 100 for code in codes)
    assert sorted(state.order) == sorted(state.servers)


def listed(state):
    return state.order, {i: (s.settings, s.created_at) for i, s in state.servers.items()}


def history_then(setup, *commands):
    """A log of `setup`, its state as the target, and the log after `commands`."""
    log = Log(*setup)
    target = log.state
    for command in commands:
        assert log.run(command)
    return log, target


SCENARIOS = {
    "after delete all": (THREE, [DeleteAllServers()]),
    "after a reorder": (THREE, [ReorderServers(server_ids=("s3", "s1", "s2"))]),
    "after two reorders": (
        THREE,
        [ReorderServers(server_ids=("s3", "s1", "s2")), ReorderServers(server_ids=("s2", "s3", "s1"))],
    ),
    "after changes": (
        THREE,
        [
            change("s1", name="New", outgoing={"port": 587}),
            change("s2", oauth_provider=GOOGLE, incoming={"protocol": IMAP4}),
        ],
    ),
    "after turning oauth off": (
        [added("s1", oauth("A"))],
        [
            change(
                "s1",
                oauth_provider=None,
                outgoing={"host": "a.example", "port": 25},
                incoming={"host": "b.example", "port": 110},
            )
        ],
    ),
    "after a deletion": (THREE, [DeleteServer(server_id="s2")]),
    "after an add": (THREE, [add("D", server_id="s4")]),
    "after everything": (
        THREE,
        [
            DeleteServer(server_id="s1"),
            add("A", server_id="s4"),
            change("s3", code="B2"),
            ReorderServers(server_ids=("s4", "s3", "s2")),
            change("s2", code="C"),
        ],
    ),
    "swapped codes": (THREE, [change("s1", code="T"), change("s2", code="A"), change("s1", code="B")]),
    "rotated codes": (
        THREE,
        [change("s1", code="T"), change("s3", code="A"), change("s2", code="C"), change("s1", code="B")],
    ),
    "a deleted servers code taken by a new server": (THREE, [DeleteServer(server_id="s1"), add("A", server_id="s4")]),
    "a deleted servers code taken by a kept server": (THREE, [DeleteServer(server_id="s1"), change("s2", code="A")]),
    "codes that look like server ids": (
        [added("s1", code="Y"), added("s2", code="s1"), added("s3", code="s3")],
        [change("s2", code="T"), change("s1", code="s1"), change("s2", code="Y")],
    ),
    "a swap whose parking code is taken": (
        [added("s1", code="X"), added("s2", code="Y"), added("s3", code="s1")],
        [change("s1", code="T"), change("s2", code="X"), change("s1", code="Y")],
    ),
    "from empty to empty": ([], []),
    "after all deleted and others added": (
        THREE,
        [DeleteAllServers(), add("B", server_id="s4"), add("A", server_id="s5")],
    ),
}


@pytest.mark.parametrize(("setup", "commands"), SCENARIOS.values(), ids=SCENARIOS.keys())
def test_a_restore_brings_back_the_target_through_valid_states(setup, commands):
    log, target = history_then(setup, *commands)
    restored(log, target)
    assert listed(log.state) == listed(target)


@pytest.mark.parametrize(("setup", "commands"), SCENARIOS.values(), ids=SCENARIOS.keys())
def test_a_second_restore_to_the_same_target_yields_nothing(setup, commands):
    log, target = history_then(setup, *commands)
    restored(log, target)
    assert decide(RestoreServers(target=target), log.state) == ()


@pytest.mark.parametrize(("setup", "commands"), SCENARIOS.values(), ids=SCENARIOS.keys())
def test_a_restore_bumps_the_list_version_once_per_membership_or_order_event(setup, commands):
    log, target = history_then(setup, *commands)
    before = log.state.list_version
    events = restored(log, target)
    assert log.state.list_version == before + sum(map(changes_membership_or_order, events))


@pytest.mark.parametrize(
    "commands",
    [
        [],
        [change("s1", name="X"), change("s1", name="Main server")],
        [ReorderServers(server_ids=("s2", "s1", "s3")), ReorderServers(server_ids=("s1", "s2", "s3"))],
    ],
    ids=["nothing happened", "changed back", "reordered back"],
)
def test_restoring_a_list_that_already_equals_the_target_yields_nothing(commands):
    log, target = history_then(THREE, *commands)
    assert decide(RestoreServers(target=target), log.state) == ()


def test_after_delete_all_every_server_comes_back_with_its_id_and_creation_time():
    log, target = history_then(THREE, DeleteAllServers())
    assert restored(log, target) == tuple(
        ServerAdded(server_id=s.id, settings=s.settings, created_at=s.created_at) for s in target.ordered()
    )
    assert [(s.id, s.created_at) for s in log.state.ordered()] == [("s1", at(1)), ("s2", at(2)), ("s3", at(3))]


def test_after_reorders_one_reorder_puts_the_target_order_back():
    log, target = history_then(
        THREE, ReorderServers(server_ids=("s3", "s1", "s2")), ReorderServers(server_ids=("s2", "s3", "s1"))
    )
    assert restored(log, target) == (ServersReordered(before=("s2", "s3", "s1"), after=("s1", "s2", "s3")),)


def test_after_changes_each_changed_server_gets_one_change_back():
    log, target = history_then(THREE, change("s1", name="New", outgoing={"port": 587}), change("s3", code="Z"))
    events = restored(log, target)
    assert [(e.server_id, [(c.field, c.before, c.after) for c in e.changes]) for e in events] == [
        ("s1", [("name", "New", "Main server"), ("outgoing.port", 587, 25)]),
        ("s3", [("code", "Z", "C")]),
    ]


def test_swapped_codes_go_through_a_free_code():
    log, target = history_then(THREE, change("s1", code="T"), change("s2", code="A"), change("s1", code="B"))
    events = restored(log, target)
    assert all(isinstance(e, ServerChanged) for e in events)
    assert len(events) == 3
    assert {e.changes[-1].after for e in events[1:]} == {"A", "B"}


def test_a_server_brought_back_in_the_middle_is_reordered_last():
    log, target = history_then(THREE, DeleteServer(server_id="s2"))
    events = restored(log, target)
    assert events == (
        ServerAdded(server_id="s2", settings=manual("B"), created_at=at(2)),
        ServersReordered(before=("s1", "s3", "s2"), after=("s1", "s2", "s3")),
    )
    assert events[0].position == 3


def test_servers_brought_back_record_the_positions_they_land_on():
    log, target = history_then(THREE, DeleteServer(server_id="s1"), DeleteServer(server_id="s3"))
    assert [(e.server_id, e.position) for e in restored(log, target) if isinstance(e, ServerAdded)] == [
        ("s1", 2),
        ("s3", 3),
    ]


def test_a_server_that_took_a_code_is_deleted_before_the_codes_owner_comes_back():
    log, target = history_then(THREE, DeleteServer(server_id="s1"), add("A", server_id="s4"))
    assert restored(log, target) == (
        ServerDeleted(server_id="s4", code="A", name="Main server"),
        ServerAdded(server_id="s1", settings=manual("A"), created_at=at(1)),
        ServersReordered(before=("s2", "s3", "s1"), after=("s1", "s2", "s3")),
    )


def test_a_kept_server_gives_a_code_back_before_its_owner_comes_back():
    log, target = history_then(THREE, DeleteServer(server_id="s1"), change("s2", code="A"))
    events = restored(log, target)
    assert [type(e) for e in events] == [ServerChanged, ServerAdded, ServersReordered]


def test_servers_the_target_does_not_have_are_deleted_one_by_one():
    log, target = history_then([], add("A", server_id="s1"), add("B", server_id="s2"))
    assert restored(log, target) == (
        ServerDeleted(server_id="s1", code="A", name="Main server"),
        ServerDeleted(server_id="s2", code="B", name="Main server"),
    )
    assert not any(isinstance(e, AllServersDeleted) for e, _ in log.records)


@pytest.mark.parametrize("expected_list_version", [0, 3, 5])
def test_a_restore_with_a_stale_expected_list_version_is_a_conflict(expected_list_version):
    log, target = history_then(THREE, DeleteServer(server_id="s1"))
    command = RestoreServers(target=target, expected_list_version=expected_list_version)
    assert problems_raised(command, log.state) == problems(("expectedListVersion", ErrorCode.VERSION_CONFLICT))


def test_a_restore_with_the_current_expected_list_version_goes_through():
    log, target = history_then(THREE, DeleteServer(server_id="s1"))
    restored(log, target, expected_list_version=4)
    assert listed(log.state) == listed(target)


# Random histories. Codes overlap server ids on purpose: a restore may not
# assume that a server id is free to use as a code.
CODES = ["A", "B", "s1", "s2", "s3"]
SERVER = st.integers(0, 9)
OPERATIONS = st.one_of(
    st.tuples(st.just("add"), st.sampled_from(CODES)),
    st.tuples(st.just("code"), SERVER, st.sampled_from(CODES)),
    st.tuples(st.just("swap codes"), SERVER, SERVER),
    st.tuples(st.just("timeout"), SERVER, st.integers(1, 3)),
    st.tuples(st.just("oauth"), SERVER),
    st.tuples(st.just("delete"), SERVER),
    st.tuples(st.just("reorder"), st.integers(0, 2**16)),
    st.tuples(st.just("delete all")),
)


def commands_for(operation, state: ServerList, fresh_id: str) -> list:
    kind, *args = operation
    order = state.order
    if kind == "add":
        return [add(args[0], server_id=fresh_id)]
    if kind == "delete all":
        return [DeleteAllServers()]
    if kind == "reorder":
        shuffled = list(order)
        random.Random(args[0]).shuffle(shuffled)
        return [ReorderServers(server_ids=tuple(shuffled))]
    if not order:
        return []
    one, other = (state.servers[order[i % len(order)]] for i in (args[0], args[1] if kind == "swap codes" else 0))
    match kind:
        case "code":
            return [change(one.id, code=args[1])]
        case "swap codes":
            return [change(one.id, code="T"), change(other.id, code=one.code), change(one.id, code=other.code)]
        case "timeout":
            return [change(one.id, incoming={"timeout_seconds": 10 * args[1]})]
        case "oauth":
            return [change(one.id, oauth_provider=GOOGLE, incoming={"protocol": IMAP4})]
        case _:
            return [DeleteServer(server_id=one.id)]


def run_all(log: Log, operations) -> None:
    for operation in operations:
        fresh_id = f"s{sum(isinstance(e, ServerAdded) for e, _ in log.records) + 1}"
        for command in commands_for(operation, log.state, fresh_id):
            try:
                log.run(command)
            except MailServerError:
                pass


@settings(max_examples=300, deadline=None, database=None, derandomize=True)
@for_all(st.lists(OPERATIONS, max_size=12), st.lists(OPERATIONS, max_size=12))
def test_a_restore_after_any_history_brings_back_the_target_through_valid_states(before, after):
    log = Log()
    run_all(log, before)
    target = log.state
    run_all(log, after)
    restored(log, target)
    assert listed(log.state) == listed(target)
    assert decide(RestoreServers(target=target), log.state) == ()
