"""Every mutation refuses every kind of non-admin caller (in-process ASGI)."""

from __future__ import annotations

import pytest

from tests.e2e.authorization import AuthorizationCases
from tests.e2e.conftest import Deployment


@pytest.fixture(scope="module")
def deployment(asgi: Deployment) -> Deployment:
    return asgi


class TestAuthorizationOverASGI(AuthorizationCases):
    pass
