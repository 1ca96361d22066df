"""A thin GraphQL-over-HTTP client: it fails on errors unless a test says it expects them."""

from __future__ import annotations

from typing import Any

import httpx

from tests.e2e import documents as doc
from tests.support import token

Json = dict[str, Any]


class _Default:
    pass


ADMIN = _Default()
"""The client's own (admin) token; pass `token=None` to send no Authorization header."""


class GraphQLClient:
    def __init__(self, http: httpx.AsyncClient, default_token: str | None = None) -> None:
        self.http = http
        self.default_token = default_token if default_token is not None else token()

    def _headers(self, bearer: str | None | _Default, headers: dict[str, str] | None) -> dict[str, str]:
        result = dict(headers or {})
        chosen = self.default_token if isinstance(bearer, _Default) else bearer
        if chosen is not None:
            result["Authorization"] = f"Bearer {chosen}"
        return result

    async def post(
        self,
        query: str,
        variables: Json | None = None,
        *,
        token: str | None | _Default = ADMIN,
        headers: dict[str, str] | None = None,
    ) -> Json:
        """The whole response body; asserts only that HTTP said 200 and gave JSON."""
        body: Json = {"query": query}
        if variables is not None:
            body["variables"] = variables
        response = await self.http.post("/graphql", json=body, headers=self._headers(token, headers))
        assert response.status_code == 200, response.text
        result: Json = response.json()
        return result

    async def gql(
        self,
        query: str,
        variables: Json | None = None,
        *,
        token: str | None | _Default = ADMIN,
        headers: dict[str, str] | None = None,
        expect_errors: bool = False,
    ) -> Json:
        """`data` of a request that must have no top-level errors (or, with
        `expect_errors`, the whole body, which must have some)."""
        body = await self.post(query, variables, token=token, headers=headers)
        if expect_errors:
            assert body.get("errors"), body
            return body
        assert "errors" not in body, body["errors"]
        data: Json = body["data"]
        return data

    async def mutate(self, query: str, input: Json | None, *, expect_success: bool = True, **kwargs: Any) -> Json:
        """The single payload of a mutation; by default it must carry no user errors."""
        data = await self.gql(query, {"input": input}, **kwargs)
        (payload,) = data.values()
        if expect_success:
            assert payload["errors"] == [], payload["errors"]
        result: Json = payload
        return result

    async def add(self, input: Json, **kwargs: Any) -> Json:
        return await self.mutate(doc.ADD, input, **kwargs)

    async def change(self, input: Json, **kwargs: Any) -> Json:
        return await self.mutate(doc.CHANGE, input, **kwargs)

    async def reorder(self, input: Json, **kwargs: Any) -> Json:
        return await self.mutate(doc.REORDER, input, **kwargs)

    async def delete(self, input: Json, **kwargs: Any) -> Json:
        return await self.mutate(doc.DELETE, input, **kwargs)

    async def delete_all(self, input: Json | None = None, **kwargs: Any) -> Json:
        return await self.mutate(doc.DELETE_ALL, input, **kwargs)

    async def servers(self, **kwargs: Any) -> Json:
        result: Json = (await self.gql(doc.SERVERS, **kwargs))["mailServers"]
        return result

    async def server(self, **arguments: str) -> Json | None:
        result: Json | None = (await self.gql(doc.SERVER, arguments))["mailServer"]
        return result

    async def choices(self, **kwargs: Any) -> list[Json]:
        result: list[Json] = (await self.gql(doc.CHOICES, **kwargs))["mailServerChoices"]
        return result


def error_codes(body: Json) -> list[str]:
    """The extensions.code of each top-level error."""
    return [error.get("extensions", {}).get("code") for error in body.get("errors", [])]


def user_errors(payload: Json) -> list[tuple[list[str] | None, str]]:
    return [(error["field"], error["code"]) for error in payload["errors"]]
