import pytest

from domain.commands import DeleteAllServers, DeleteServer, ReorderServers
from domain.decide import decide
from domain.errors import ErrorCode
from domain.events import AllServersDeleted, ServerDeleted, ServersReordered

from .builders import Log, added, change, given, problems, problems_raised

THREE = [added("s1", code="A", name="Alpha"), added("s2", code="B", name="Beta"), added("s3", code="C", name="Gamma")]


@pytest.mark.parametrize(
    "ids",
    [("s1", "s3", "s2"), ("s3", "s2", "s1"), ("s2", "s1", "s3"), ("s3", "s1", "s2")],
)
def test_a_permutation_of_the_live_servers_reorders_them(ids):
    assert decide(ReorderServers(server_ids=ids), given(*THREE)) == (
        ServersReordered(before=("s1", "s2", "s3"), after=ids),
    )


@pytest.mark.parametrize(
    "ids",
    [
        (),
        ("s1", "s2"),
        ("s1", "s2", "s3", "s4"),
        ("s1", "s2", "s4"),
        ("s1", "s2", "s2"),
        ("s1", "s2", "s3", "s3"),
        ("s1", "s2", "s3", "gone"),
        ("s1", "s2", "gone"),
    ],
)
def test_a_reorder_that_is_no_permutation_of_the_live_servers_is_an_order_mismatch(ids):
    state = given(*THREE, added("gone", code="G"), ServerDeleted(server_id="gone", code="G", name="Main server"))
    assert problems_raised(ReorderServers(server_ids=ids), state) == problems(("ids", ErrorCode.ORDER_MISMATCH))


@pytest.mark.parametrize(
    ("history", "ids"),
    [([], ()), (THREE[:1], ("s1",)), (THREE, ("s1", "s2", "s3"))],
)
def test_a_reorder_to_the_current_order_yields_nothing(history, ids):
    assert decide(ReorderServers(server_ids=ids), given(*history)) == ()


@pytest.mark.parametrize(
    "command",
    [
        ReorderServers(server_ids=("s2", "s1", "s3"), expected_list_version=2),
        ReorderServers(server_ids=("s2", "s1", "s3"), expected_list_version=4),
        ReorderServers(server_ids=("s1", "s2", "s3"), expected_list_version=0),
        DeleteAllServers(expected_list_version=2),
    ],
)
def test_a_stale_expected_list_version_is_a_conflict(command):
    assert problems_raised(command, given(*THREE)) == problems(("expectedListVersion", ErrorCode.VERSION_CONFLICT))


def test_the_current_expected_list_version_lets_a_reorder_through():
    log = Log(*THREE)
    log.run(change("s1", name="Changes leave the list version alone"))
    command = ReorderServers(server_ids=("s3", "s2", "s1"), expected_list_version=3)
    assert decide(command, log.state) == (ServersReordered(before=("s1", "s2", "s3"), after=("s3", "s2", "s1")),)


def test_a_reorder_after_a_deletion_names_only_the_live_servers():
    log = Log(*THREE)
    log.run(DeleteServer(server_id="s2"))
    assert log.run(ReorderServers(server_ids=("s3", "s1"))) == (
        ServersReordered(before=("s1", "s3"), after=("s3", "s1")),
    )
    assert log.state.order == ("s3", "s1")


@pytest.mark.parametrize(("server_id", "code", "name"), [("s1", "A", "Alpha"), ("s3", "C", "Gamma")])
def test_deleting_a_server_records_its_code_and_name(server_id, code, name):
    assert decide(DeleteServer(server_id=server_id), given(*THREE)) == (
        ServerDeleted(server_id=server_id, code=code, name=name),
    )


@pytest.mark.parametrize(
    ("deleted", "order"),
    [("s1", ("s2", "s3")), ("s2", ("s1", "s3")), ("s3", ("s1", "s2"))],
)
def test_deleting_a_server_closes_the_gap(deleted, order):
    log = Log(*THREE)
    log.run(DeleteServer(server_id=deleted))
    assert log.state.order == order
    assert [log.state.position_of(i) for i in order] == [1, 2]


@pytest.mark.parametrize(
    "history",
    [
        [],
        THREE,
        [*THREE, added("s4", code="D"), ServerDeleted(server_id="s4", code="D", name="Main server")],
        [added("s4", code="D"), AllServersDeleted(server_ids=("s4",))],
    ],
    ids=["empty", "others live", "deleted", "all deleted"],
)
def test_deleting_a_server_that_is_not_live_is_not_found(history):
    assert problems_raised(DeleteServer(server_id="s4"), given(*history)) == problems(("id", ErrorCode.NOT_FOUND))


@pytest.mark.parametrize("expected_version", [0, 1, 3])
def test_deleting_with_a_stale_expected_version_is_a_conflict(expected_version):
    log = Log(*THREE)
    log.run(change("s2", name="Second version"))
    command = DeleteServer(server_id="s2", expected_version=expected_version)
    assert problems_raised(command, log.state) == problems(("expectedVersion", ErrorCode.VERSION_CONFLICT))


def test_deleting_with_the_current_expected_version_succeeds():
    log = Log(*THREE)
    log.run(change("s2", name="Second version"))
    assert decide(DeleteServer(server_id="s2", expected_version=2), log.state) == (
        ServerDeleted(server_id="s2", code="B", name="Second version"),
    )


@pytest.mark.parametrize("expected_list_version", [None, 4])
def test_deleting_all_servers_names_them_in_list_order(expected_list_version):
    log = Log(*THREE)
    log.run(ReorderServers(server_ids=("s2", "s3", "s1")))
    command = DeleteAllServers(expected_list_version=expected_list_version)
    assert log.run(command) == (AllServersDeleted(server_ids=("s2", "s3", "s1")),)
    assert log.state.order == ()
    assert dict(log.state.servers) == {}


@pytest.mark.parametrize(
    "history",
    [[], [*THREE, AllServersDeleted(server_ids=("s1", "s2", "s3"))]],
    ids=["never any", "all deleted"],
)
def test_deleting_all_servers_of_an_empty_list_yields_nothing(history):
    assert decide(DeleteAllServers(), given(*history)) == ()


@pytest.mark.parametrize(
    "command",
    [change("s1", name="x"), DeleteServer(server_id="s1")],
)
def test_a_server_is_gone_after_all_servers_are_deleted(command):
    log = Log(*THREE)
    log.run(DeleteAllServers())
    assert problems_raised(command, log.state) == problems(("id", ErrorCode.NOT_FOUND))
