"""Authorization cases for every mutation, run against any deployment (see
test_authorization.py for ASGI and test_admin_story.py for a real socket)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.e2e import documents as doc
from tests.e2e.api_client import error_codes
from tests.e2e.conftest import Deployment
from tests.e2e.tokens import REJECTED

# mutation -> (document, an input that an admin could run successfully, given two live server ids)
MUTATIONS: dict[str, Callable[[str, str], tuple[str, dict[str, Any] | None]]] = {
    "addMailServer": lambda a, b: (doc.ADD, doc.manual("intruder")),
    "changeMailServer": lambda a, b: (doc.CHANGE, {"id": a, "name": "Hijacked"}),
    "reorderMailServers": lambda a, b: (doc.REORDER, {"ids": [b, a]}),
    "deleteMailServer": lambda a, b: (doc.DELETE, {"id": a}),
    "deleteAllMailServers": lambda a, b: (doc.DELETE_ALL, None),
}


class AuthorizationCases:
    """Subclass in a module that provides a `deployment` fixture."""

    @pytest.fixture
    async def two_servers(self, deployment: Deployment) -> tuple[str, str]:
        """Live servers "a" and "b", in that order, and nothing else (kept from the previous case when intact)."""
        listed = (await deployment.api.servers())["items"]
        if [s["code"] for s in listed] != ["a", "b"]:
            await deployment.api.delete_all()
            listed = [(await deployment.api.add(doc.manual(code)))["server"] for code in ("a", "b")]
        return listed[0]["id"], listed[1]["id"]

    @pytest.mark.parametrize("kind", REJECTED)
    @pytest.mark.parametrize("mutation", MUTATIONS)
    async def test_a_mutation_without_an_admin_token_is_rejected_and_appends_nothing(
        self, deployment: Deployment, two_servers: tuple[str, str], mutation: str, kind: str
    ):
        query, input = MUTATIONS[mutation](*two_servers)
        bearer, expected = REJECTED[kind]
        async with deployment.log.unchanged():
            body = await deployment.api.gql(query, {"input": input}, token=bearer, expect_errors=True)
        assert error_codes(body) == [expected]
        assert body["data"] is None
        assert "Traceback" not in str(body)

    @pytest.mark.parametrize("mutation", MUTATIONS)
    async def test_an_admin_token_may_run_the_same_mutation(
        self, deployment: Deployment, two_servers: tuple[str, str], mutation: str
    ):
        query, input = MUTATIONS[mutation](*two_servers)
        async with deployment.log.appends(1):
            await deployment.api.mutate(query, input)
