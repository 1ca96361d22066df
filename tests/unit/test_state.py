import pytest

from domain.commands import DeleteAllServers, DeleteServer, ReorderServers
from domain.events import EventMeta, ServerAdded, ServersReordered
from domain.state import ServerList, evolve, fold_events

from .builders import Log, add, added, at, change, manual

STEPS = [
    (add("A", server_id="s1"), 1),
    (add("B", server_id="s2"), 2),
    (add("C", server_id="s3"), 3),
    (change("s1", name="Renamed"), 3),
    (change("s2", outgoing={"port": 587}), 3),
    (ReorderServers(server_ids=("s3", "s1", "s2")), 4),
    (DeleteServer(server_id="s1"), 5),
    (change("s3", code="Z"), 5),
    (DeleteAllServers(), 6),
    (add("A", server_id="s4"), 7),
]


@pytest.mark.parametrize("steps", range(len(STEPS) + 1))
def test_the_list_version_counts_membership_and_order_events_but_not_changes(steps):
    log = Log()
    for command, _ in STEPS[:steps]:
        assert len(log.run(command)) == 1
    assert log.state.list_version == (STEPS[steps - 1][1] if steps else 0)


def test_a_servers_version_counts_only_its_own_events():
    log = Log()
    log.run(add("A", server_id="s1"))
    log.run(add("B", server_id="s2"))
    log.run(change("s1", name="Two"))
    log.run(ReorderServers(server_ids=("s2", "s1")))
    log.run(change("s2", name="Two"))
    log.run(change("s1", name="Three"))
    log.run(add("C", server_id="s3"))
    log.run(DeleteServer(server_id="s3"))
    versions = {i: s.version for i, s in log.state.servers.items()}
    assert versions == {"s1": 3, "s2": 2}


def test_updated_at_moves_only_with_the_servers_own_events():
    log = Log(added("s1", code="A"), added("s2", code="B"))
    log.run(change("s1", name="Changed"))
    log.run(ReorderServers(server_ids=("s2", "s1")))
    log.run(change("s2", name="Changed"))
    log.run(DeleteServer(server_id="s2"))
    s1 = log.state.servers["s1"]
    assert (s1.created_at, s1.updated_at) == (at(1), at(3))


def test_a_server_added_back_keeps_the_creation_time_it_carries():
    state = fold_events(
        [
            (
                ServerAdded(server_id="s1", settings=manual(), created_at=at(-100)),
                EventMeta(stream_version=5, occurred_at=at(7)),
            )
        ]
    )
    server = state.servers["s1"]
    assert (server.created_at, server.updated_at, server.version) == (at(-100), at(7), 5)


def test_evolving_event_by_event_equals_folding_the_log():
    log = Log()
    for command, _ in STEPS:
        log.run(command)
    state = ServerList()
    for event, meta in log.records:
        state = evolve(state, event, meta)
    assert state == log.state


def test_evolve_leaves_the_state_it_was_given_alone():
    before = Log(added("s1", code="A"), added("s2", code="B")).state
    after = evolve(
        before,
        ServersReordered(before=("s1", "s2"), after=("s2", "s1")),
        EventMeta(stream_version=1, occurred_at=at(9)),
    )
    assert (before.order, before.list_version) == (("s1", "s2"), 2)
    assert (after.order, after.list_version) == (("s2", "s1"), 3)


def test_a_fold_continues_from_a_given_state():
    log = Log(added("s1", code="A"), added("s2", code="B"), added("s3", code="C"))
    head, tail = log.records[:1], log.records[1:]
    assert fold_events(tail, fold_events(head)) == log.state


def test_the_server_list_finds_servers_by_code_and_position():
    state = Log(added("s1", code="A"), added("s2", code="B")).state
    assert [s.id for s in state.ordered()] == ["s1", "s2"]
    assert state.holder_of("B").id == "s2"
    assert state.holder_of("b") is None
    assert (state.position_of("s1"), state.position_of("s2")) == (1, 2)
    assert state.get("s3") is None
