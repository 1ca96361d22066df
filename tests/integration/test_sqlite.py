"""The integration suite against the embedded SQLite default (a file per database)."""

from tests.integration.backends import Sqlite
from tests.integration.group_commit_cases import GroupCommitCases
from tests.integration.history_cases import HistoryCases
from tests.integration.idempotency_cases import IdempotencyCases
from tests.integration.service_cases import ServiceCases
from tests.integration.snapshot_cases import SnapshotCases
from tests.integration.store_cases import StoreCases


class TestSqlite(StoreCases, ServiceCases, IdempotencyCases, HistoryCases, GroupCommitCases, SnapshotCases):
    backend = Sqlite()
