"""Whole-response cache for read operations.

A query's answer is a function of its request (document, variables, the
caller's role class, language and media type) and the log's position: the
checkpoint moves with every committed event, on every instance. So an answer
cached under position P is served only while the database still says P, and
the cache is dropped as soon as it says anything else: never stale, and an
answer is made once per request and position.

Only requests that have already run cleanly once are looked up (api/cached_reads.py),
so a request that the limits refuse costs no database round trip."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from graphql import FieldNode, GraphQLError, OperationDefinitionNode, parse

from api.limits import MAX_TOKENS

MAX_BYTES = 32 * 1024 * 1024
MAX_ENTRY_BYTES = 4 * 1024 * 1024
MAX_CACHED_DOCUMENT = 64 * 1024

Key = Hashable


@dataclass(frozen=True, slots=True)
class Operation:
    """What a document would run: its kind and its root fields."""

    kind: str  # "query", "mutation" or "subscription"
    root_fields: tuple[str, ...]


def _operation(document: str, operation_name: str | None) -> Operation | None:
    try:
        # The token limit applies here too: this parse runs before GraphQL's own.
        parsed = parse(document, max_tokens=MAX_TOKENS, no_location=True)
    except GraphQLError:
        return None
    operations = [d for d in parsed.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name is not None:
        operations = [o for o in operations if o.name is not None and o.name.value == operation_name]
    if len(operations) != 1:
        return None
    fields = sorted({s.name.value for s in operations[0].selection_set.selections if isinstance(s, FieldNode)})
    return Operation(operations[0].operation.value, tuple(fields))


_cached_operation = lru_cache(maxsize=512)(_operation)


def operation_of(body: dict[str, Any]) -> Operation | None:
    """What the request's document would run, or None when that is unclear."""
    document = body.get("query")
    operation_name = body.get("operationName")
    if not isinstance(document, str) or not (operation_name is None or isinstance(operation_name, str)):
        return None
    if len(document) > MAX_CACHED_DOCUMENT:
        return _operation(document, operation_name)
    return _cached_operation(document, operation_name)


class ResponseCache:
    """Answers by key at one log position, bounded in bytes; a newer position empties it."""

    def __init__(self) -> None:
        self.position = -1
        self.entries: OrderedDict[Key, bytes] = OrderedDict()
        self.size = 0

    def _at(self, position: int) -> bool:
        if position > self.position:
            self.position = position
            self.entries.clear()
            self.size = 0
        return position == self.position

    def get(self, position: int, key: Key) -> bytes | None:
        """The cached answer at this position, if any."""
        body = self.entries.get(key) if self._at(position) else None
        if body is not None:
            self.entries.move_to_end(key)
        return body

    def put(self, position: int, key: Key, body: bytes) -> None:
        """Cache an answer at this position, unless the cache has moved past it or the answer is too large."""
        if not self._at(position) or len(body) > MAX_ENTRY_BYTES or key in self.entries:
            return
        self.entries[key] = body
        self.size += len(body)
        while self.size > MAX_BYTES:
            _, evicted = self.entries.popitem(last=False)
            self.size -= len(evicted)
