"""Limits: the request limits named once, the domain's ranges as descriptions say them, and the depth rule."""

from __future__ import annotations

from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationContext,
    ValidationRule,
)

from domain.values import MAX_PORT, MAX_TIMEOUT_SECONDS, MIN_PORT, MIN_TIMEOUT_SECONDS

MAX_DEPTH = 20
"""Levels an operation may nest, root fields at 0, introspection and fragments included."""
MAX_ALIASES = 50
"""Aliases one document may use."""
MAX_TOKENS = 5000
"""Lexical tokens one document may have, checked before it is parsed any further."""
MAX_BODY_BYTES = 1024 * 1024
"""Bytes a POST body may have (1 MiB)."""

PORTS = f"{MIN_PORT}..{MAX_PORT}"
"""The domain's port range, as the schema's descriptions write it."""
TIMEOUTS = f"{MIN_TIMEOUT_SECONDS}..{MAX_TIMEOUT_SECONDS} seconds"
"""The domain's timeout range, as the schema's descriptions write it."""


def _depth(
    selection_set: SelectionSetNode | None, fragments: dict[str, FragmentDefinitionNode], seen: frozenset[str]
) -> int:
    if selection_set is None:
        return 0
    deepest = 0
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            # Introspection fields count like any other: __type { ofType { ofType ... } } nests too.
            deepest = max(deepest, 1 + _depth(selection.selection_set, fragments, seen))
        elif isinstance(selection, InlineFragmentNode):
            deepest = max(deepest, _depth(selection.selection_set, fragments, seen))
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            fragment = fragments.get(name)
            if fragment is not None and name not in seen:  # cycles are another rule's error
                deepest = max(deepest, _depth(fragment.selection_set, fragments, seen | {name}))
    return deepest


class DepthLimit(ValidationRule):
    """Operations may nest at most MAX_DEPTH fields deep, fragments followed."""

    def __init__(self, context: ValidationContext) -> None:
        super().__init__(context)
        document = context.document
        fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
        for definition in document.definitions:
            if isinstance(definition, OperationDefinitionNode):
                # Counted as graphql-depth-limit does: root fields are at depth 0.
                depth = _depth(definition.selection_set, fragments, frozenset()) - 1
                if depth > MAX_DEPTH:
                    name = definition.name.value if definition.name else "anonymous"
                    context.report_error(
                        GraphQLError(
                            f"'{name}' exceeds maximum operation depth of {MAX_DEPTH}.",
                            definition,
                            extensions={"code": "QUERY_TOO_DEEP"},
                        )
                    )

    def enter(self, *_args: Any) -> None:
        """Nothing per node: the whole document is measured once, at construction."""
        return None
