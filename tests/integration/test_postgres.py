"""The integration suite against the PostgreSQL server of the machine."""

import pytest

from tests.integration.backends import Postgres
from tests.integration.group_commit_cases import GroupCommitCases
from tests.integration.history_cases import HistoryCases
from tests.integration.idempotency_cases import IdempotencyCases
from tests.integration.service_cases import ServiceCases
from tests.integration.snapshot_cases import SnapshotCases
from tests.integration.store_cases import StoreCases

pytestmark = pytest.mark.postgres


class TestPostgres(StoreCases, ServiceCases, IdempotencyCases, HistoryCases, GroupCommitCases, SnapshotCases):
    backend = Postgres()
