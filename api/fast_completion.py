"""Completing the history views' results without graphql-core's per-field machinery.

An audit page is a hundred events of a dozen fields each, and a list as it was
is a thousand servers: executing each of those fields through graphql-core
(resolve info, resolver, completion, awaitable checks) costs more than
everything else the request does. Their types have only plain fields (an
attribute read, no resolver, arguments or permission), so below the root
fields named in FAST_ROOTS an object is completed here from a plan made once
per selection and request: read the attribute, serialize leaves with the
type's own serializer, recurse. Anything the plan does not cover (a null in a
non-null field, an unknown runtime type, a deferred fragment, a field with a
resolver) falls back to graphql-core for that object, so results and errors
are exactly what plain execution gives (tests/e2e/test_history_fast_path.py
compares the bytes)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from graphql import (
    ExecutionResult,
    GraphQLBoolean,
    GraphQLID,
    GraphQLInt,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLResolveInfo,
    GraphQLString,
    is_abstract_type,
    is_leaf_type,
    is_list_type,
    is_non_null_type,
    is_object_type,
)
from graphql.execution.collect_fields import FieldDetailsList
from graphql.pyutils import Path, Undefined
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

_INT_MIN, _INT_MAX = -(2**31), 2**31 - 1
FAST_ROOTS = frozenset({"events", "mailServersAsOf"})
DEFINITION = "strawberry-definition"


class _Fallback(Exception):
    """This object needs graphql-core's own completion."""


Complete = Callable[[Any], Any]


def _constant(value: str) -> Complete:
    return lambda _: value


def _as_is(of: GraphQLOutputType) -> type | None:
    """The Python type whose values this leaf type serializes unchanged, if any."""
    named = of.of_type if isinstance(of, GraphQLNonNull) else of
    if named is GraphQLString or named is GraphQLID:
        return str
    if named is GraphQLBoolean:
        return bool
    if named is GraphQLInt:
        return int
    return None


class HistoryExecutionContext(StrawberryGraphQLCoreExecutionContext):
    """Strawberry's execution context, with plain-field objects under FAST_ROOTS completed by plans."""

    enabled = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._plans: dict[tuple[str, int], tuple[FieldDetailsList, Complete]] = {}

    def complete_object_value(
        self,
        return_type: GraphQLObjectType,
        field_details_list: FieldDetailsList,
        info: GraphQLResolveInfo[Any],
        path: Path,
        result: Any,
        position_context: Any,
    ) -> Any:
        if self.enabled and path.prev is None and info.field_name in FAST_ROOTS and not self._middleware():
            try:
                return self._object(return_type, field_details_list)(result)
            except Exception:  # _Fallback, or an error graphql-core should report at its own path
                pass
        return super().complete_object_value(return_type, field_details_list, info, path, result, position_context)

    def build_response(self, data: dict[str, Any] | None) -> Any:
        # The plans' closures, and graphql-core's async helpers (bound methods of
        # this context, kept on it), refer back to this context: cycles that only
        # the cyclic collector frees, dragging the whole request's objects with
        # them, so that every few hundred requests it stopped the server for
        # 30-80 ms. Dropped once the response is built, everything goes by refcount.
        # An incremental (@defer/@stream) result still runs on this context after
        # this and keeps both; a subscription's per-event copy drops only its own.
        self._plans.clear()
        response = super().build_response(data)
        if isinstance(response, ExecutionResult):
            del self.async_helpers
        return response

    def _middleware(self) -> bool:
        # A schema extension with a resolve hook must see every field: no plans then.
        manager = self.middleware_manager
        return manager is not None and bool(manager.middlewares)

    def _object(self, object_type: GraphQLObjectType, field_details_list: FieldDetailsList) -> Complete:
        key = (object_type.name, id(field_details_list))
        known = self._plans.get(key)
        if known is not None:
            return known[1]
        grouped, deferred, _ = self.collect_subfields(object_type, field_details_list)
        if deferred:
            raise _Fallback
        definition = object_type.extensions.get(DEFINITION)
        origin = getattr(definition, "origin", None)
        # (response key, attribute, the Python type kept as it is, completion); no attribute: __typename.
        steps: list[tuple[str, str, type | None, Complete]] = []
        for response_key, details in grouped.items():
            node = details[0].node
            name = node.name.value
            if name == "__typename":
                steps.append((response_key, "", None, _constant(object_type.name)))
                continue
            field = object_type.fields.get(name)
            if field is None or field.args or node.arguments or not getattr(field.resolve, "_is_default", False):
                raise _Fallback
            python_name = field.extensions[DEFINITION].python_name
            steps.append((response_key, python_name, _as_is(field.type), self._value(field.type, details)))

        def complete(source: Any) -> dict[str, Any]:
            if origin is None or not isinstance(source, origin):
                raise _Fallback
            out: dict[str, Any] = {}
            for response_key, attribute, kept, value in steps:
                if not attribute:
                    out[response_key] = value(None)
                    continue
                got: Any = getattr(source, attribute)
                # Strings, booleans and 32-bit integers serialize to themselves: skip the call.
                if type(got) is kept and (kept is not int or _INT_MIN <= cast(int, got) <= _INT_MAX):
                    out[response_key] = got
                else:
                    out[response_key] = value(got)
            return out

        self._plans[key] = (field_details_list, complete)
        return complete

    def _value(self, of: GraphQLOutputType, details: FieldDetailsList) -> Complete:
        if is_non_null_type(of):
            assert isinstance(of, GraphQLNonNull)
            inner = self._value(of.of_type, details)

            def required(value: Any) -> Any:
                if value is None:
                    raise _Fallback  # graphql-core reports the error
                return inner(value)

            return required
        if is_list_type(of):
            assert isinstance(of, GraphQLList)
            item = self._value(of.of_type, details)
            return lambda value: None if value is None else [item(v) for v in value]
        if is_leaf_type(of):
            coerce = of.coerce_output_value

            def serialize(value: Any) -> Any:
                if value is None:
                    return None
                coerced = coerce(value)
                if coerced is None or coerced is Undefined:
                    raise _Fallback  # graphql-core reports the error
                return coerced

            return serialize
        if is_object_type(of):
            assert isinstance(of, GraphQLObjectType)
            plan = self._object(of, details)
            return lambda value: None if value is None else plan(value)
        if is_abstract_type(of):
            return self._abstract(of, details)
        raise _Fallback

    def _abstract(self, of: GraphQLOutputType, details: FieldDetailsList) -> Complete:
        schema = self.schema
        by_class: dict[type, Complete] = {}

        def complete(value: Any) -> Any:
            if value is None:
                return None
            plan = by_class.get(type(value))
            if plan is None:
                definition = getattr(type(value), "__strawberry_definition__", None)
                runtime = schema.get_type(definition.name) if definition is not None else None
                if not isinstance(runtime, GraphQLObjectType) or not schema.is_sub_type(of, runtime):  # type: ignore[arg-type]
                    raise _Fallback
                plan = by_class[type(value)] = self._object(runtime, details)
            return plan(value)

        return complete
