"""Whole-response cache for read operations.

A query's answer is a function of its document, variables, the caller's role
class and language, and the log's position: the checkpoint moves with every
committed event, on every instance. So an answer cached under position P is
served only while the database still says P, and the cache is dropped as soon
as it says anything else: never stale, and GraphQL field resolution (the
expensive part of a read) runs once per document and position."""

from __future__ import annotations

import json
from collections import OrderedDict
from functools import lru_cache
from typing import Any

from graphql import GraphQLError, OperationDefinitionNode, OperationType, parse

MAX_BYTES = 32 * 1024 * 1024
MAX_ENTRY_BYTES = 4 * 1024 * 1024

Key = tuple[str, ...]


@lru_cache(maxsize=1024)
def is_query(document: str, operation_name: str | None) -> bool:
    """True when the operation that would run is a query (never a mutation)."""
    try:
        parsed = parse(document)
    except GraphQLError:
        return False
    operations = [d for d in parsed.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name is not None:
        operations = [o for o in operations if o.name is not None and o.name.value == operation_name]
    return len(operations) == 1 and operations[0].operation is OperationType.QUERY


def cache_key(body: dict[str, Any], *, role: str, lang: str, media: str) -> Key | None:
    document = body.get("query")
    operation_name = body.get("operationName")
    if not isinstance(document, str) or not (operation_name is None or isinstance(operation_name, str)):
        return None
    if not is_query(document, operation_name):
        return None
    variables = json.dumps(body.get("variables") or {}, sort_keys=True, separators=(",", ":"))
    return (document, variables, operation_name or "", role, lang, media)


class ResponseCache:
    def __init__(self) -> None:
        self.position = -1
        self.entries: OrderedDict[Key, bytes] = OrderedDict()
        self.size = 0
        self.hits = 0
        self.misses = 0

    def _at(self, position: int) -> bool:
        if position > self.position:
            self.position = position
            self.entries.clear()
            self.size = 0
        return position == self.position

    def get(self, position: int, key: Key) -> bytes | None:
        body = self.entries.get(key) if self._at(position) else None
        if body is None:
            self.misses += 1
        else:
            self.hits += 1
            self.entries.move_to_end(key)
        return body

    def put(self, position: int, key: Key, body: bytes) -> None:
        if not self._at(position) or len(body) > MAX_ENTRY_BYTES or key in self.entries:
            return
        self.entries[key] = body
        self.size += len(body)
        while self.size > MAX_BYTES:
            _, evicted = self.entries.popitem(last=False)
            self.size -= len(evicted)
