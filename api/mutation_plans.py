"""Compiled mutation documents: addMailServer and changeMailServer without graphql-core's executor.

A document (one mutation operation of one of those fields, with its input as a
variable or a literal object) is compiled once: validated against our schema,
its input argument read with graphql-core's own coercion and converted with
Strawberry's own conversion into the same input object the resolver gets, and
its payload's selection set (fragments, aliases, literal @skip/@include,
__typename) turned into a writer of the answer's JSON. Anything else refuses to
compile (NotCompilableError). A plan answers only once its answer was found byte
for byte equal to Strawberry's own (api/fast_mutations.py)."""

from __future__ import annotations

import json
import operator
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, cast

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    GraphQLEnumType,
    GraphQLError,
    GraphQLField,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLScalarType,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    get_operation_ast,
    parse,
    specified_rules,
)
from graphql.execution.values import get_argument_values, get_variable_values
from strawberry.schema.schema import validate_document
from strawberry.types.arguments import StrawberryArgument, convert_arguments

from api.limits import MAX_TOKENS
from api.mutations import added, changed
from api.read_plans import Collector, NotCompilableError, Render, object_renderer
from api.schema import VALIDATION_RULES, schema
from api.types import UserError
from domain.commands import Command
from events.application.service import Respond
from events.serialization import JsonDict

MAX_PLANS = 64
_GRAPHQL = schema._schema
_RULES = (*specified_rules, *VALIDATION_RULES)
_COMMANDS: dict[str, Callable[[Any], tuple[Command, Respond]]] = {
    "addMailServer": added,
    "changeMailServer": changed,
}
# Scalars whose stored JSON value is already what GraphQL sends: a DateTime is kept as its isoformat(),
# which is how Strawberry serializes it, and fromisoformat(...).isoformat() gives the same text back.
_AS_STORED = frozenset({"String", "Int", "Boolean", "ID", "DateTime"})


class UnusableRequestError(Exception):
    """The request's variables or input do not make an input object: Strawberry answers it with its errors."""


def _stored_value(collector: Collector, type_: GraphQLOutputType, nodes: list[FieldNode]) -> Render:
    """How a value kept in a server's stored JSON (events/serialization.py's server_to_json) is sent."""
    if isinstance(type_, GraphQLNonNull):
        return _stored_value(collector, type_.of_type, nodes)
    if isinstance(type_, GraphQLEnumType):
        members = getattr(type_, "wrapped_cls", None)
        if members is None:
            raise NotCompilableError(f"enum {type_.name}")
        # Stored by value (domain/model.py's scalars); sent as GraphQL serializes the member.
        names = {member.value: type_.serialize(member) for member in members}
        return lambda value: None if value is None else names[value]
    if isinstance(type_, GraphQLScalarType) and type_.name in _AS_STORED:
        return lambda value: value
    if isinstance(type_, GraphQLObjectType):
        return _stored_object(collector, type_, [n.selection_set for n in nodes if n.selection_set is not None])
    raise NotCompilableError(f"type {type_}")


def _stored_field(
    collector: Collector, _type: GraphQLObjectType, field: GraphQLField, nodes: list[FieldNode]
) -> tuple[str, Render]:
    return nodes[0].name.value, _stored_value(collector, field.type, nodes)


def _stored_object(collector: Collector, type_: GraphQLObjectType, selection_sets: list[SelectionSetNode]) -> Render:
    """How an object kept as JSON under its GraphQL field names becomes the answer's dict, in the selection's order."""
    return object_renderer(collector, type_, selection_sets, _stored_field, operator.getitem)


PayloadRender = Callable[[JsonDict | None, list[UserError]], Any]


def _object_type(name: str) -> GraphQLObjectType:
    return cast(GraphQLObjectType, _GRAPHQL.get_type(name))


def _typename(name: str) -> PayloadRender:
    return lambda _response, _errors: name


def _server(server: Render) -> PayloadRender:
    return lambda response, _errors: server(response["server"]) if response else None


def _errors(error: Render) -> PayloadRender:
    return lambda _response, errors: [error(item) for item in errors]


def _payload(collector: Collector, field: GraphQLField, nodes: list[FieldNode]) -> PayloadRender:
    type_ = field.type.of_type if isinstance(field.type, GraphQLNonNull) else field.type
    if not isinstance(type_, GraphQLObjectType):
        raise NotCompilableError(f"payload {type_}")
    sets = [n.selection_set for n in nodes if n.selection_set is not None]
    entries: list[tuple[str, PayloadRender]] = []
    for key, fields in collector.collect(type_.name, sets).items():
        name = fields[0].name.value
        sub = [n.selection_set for n in fields if n.selection_set is not None]
        if name == "__typename":
            entries.append((key, _typename(type_.name)))
        elif name == "server":
            entries.append((key, _server(_stored_object(collector, _object_type("MailServer"), sub))))
        elif name == "errors":
            entries.append((key, _errors(object_renderer(collector, _object_type("UserError"), sub))))
        else:
            raise NotCompilableError(f"{type_.name}.{name}")
    return lambda response, errors: {key: text(response, errors) for key, text in entries}


class MutationPlan:
    """A compiled mutation document: its input from the request's variables, its command, and its answer."""

    def __init__(
        self,
        operation: OperationDefinitionNode,
        field: GraphQLField,
        node: FieldNode,
        roots: list[tuple[str, PayloadRender | None]],
    ) -> None:
        self.field_name = node.name.value
        self.variable_definitions = operation.variable_definitions or ()
        self.field = field
        self.node = node
        self.arguments: list[StrawberryArgument] = field.extensions["strawberry-definition"].arguments
        self.roots = roots
        self.command = _COMMANDS[self.field_name]
        self.proven: set[str] = set()  # "ok", "errors": the outcomes whose answers equalled Strawberry's
        self.refused = False  # an answer differed from Strawberry's: never answered here

    def input(self, variables: dict[str, Any]) -> Any:
        """The input object the resolver would get for these variables, or UnusableRequestError."""
        coerced = get_variable_values(_GRAPHQL, self.variable_definitions, variables)
        if isinstance(coerced, list):
            raise UnusableRequestError("variables")
        try:
            raw = get_argument_values(self.field, self.node, coerced)
            converted = convert_arguments(
                raw, self.arguments, scalar_registry=schema.schema_converter.scalar_registry, config=schema.config
            )
        except Exception as error:  # e.g. a GraphQLError for an argument, a coercion error of Strawberry's
            raise UnusableRequestError(str(error)) from error
        return converted["input"]

    def render(self, response: JsonDict | None, errors: list[UserError]) -> bytes:
        """The whole answer, byte for byte as Strawberry would send it for this outcome."""
        data = {key: "Mutation" if payload is None else payload(response, errors) for key, payload in self.roots}
        # Exactly as Strawberry encodes its answers (strawberry/http/base.py).
        return json.dumps({"data": data}, separators=(",", ":")).encode()


def compile_mutation(document: str, operation_name: str | None) -> MutationPlan:
    """The plan of a document running addMailServer or changeMailServer, or NotCompilableError."""
    try:
        parsed = parse(document, max_tokens=MAX_TOKENS, no_location=True)
        operation = get_operation_ast(parsed, operation_name)
        if operation is None or operation.operation != OperationType.MUTATION:
            raise NotCompilableError("not exactly one mutation")
        if validate_document(_GRAPHQL, parsed, _RULES):
            raise NotCompilableError("not valid")
        fragments = {d.name.value: d for d in parsed.definitions if isinstance(d, FragmentDefinitionNode)}
        # No variables: a directive conditioned on one refuses to compile (its payload would vary by request).
        collector = Collector(fragments, {})
        roots: list[tuple[str, PayloadRender | None]] = []
        planned: tuple[GraphQLField, FieldNode] | None = None
        for selection in operation.selection_set.selections:
            if not isinstance(selection, FieldNode) or selection.directives:
                raise NotCompilableError("a fragment or directive at the root")
            key = selection.alias.value if selection.alias else selection.name.value
            if any(k == key for k, _ in roots):
                raise NotCompilableError("a response key twice at the root")
            name = selection.name.value
            if name == "__typename":
                roots.append((key, None))
                continue
            field = _GRAPHQL.mutation_type.fields.get(name) if _GRAPHQL.mutation_type else None
            if name not in _COMMANDS or field is None or planned is not None:
                raise NotCompilableError(f"Mutation.{name}")
            planned = (field, selection)
            roots.append((key, _payload(collector, field, [selection])))
    except (GraphQLError, KeyError, ValueError, TypeError) as error:
        raise NotCompilableError(str(error)) from error
    if planned is None:
        raise NotCompilableError("no mutation field")
    return MutationPlan(operation, *planned, roots)


class MutationPlans:
    """The plans of the documents seen most recently (None for those that do not compile): memory stays
    bounded however many documents are sent, and a document is compiled once while it is kept."""

    def __init__(self) -> None:
        self.plans: OrderedDict[tuple[str, str | None], MutationPlan | None] = OrderedDict()

    def get(self, document: str, operation_name: str | None) -> MutationPlan | None:
        """The plan of this document and operation name, None when it has none."""
        key = (document, operation_name)
        try:
            plan = self.plans[key]
        except KeyError:
            try:
                plan = compile_mutation(document, operation_name)
            except NotCompilableError:
                plan = None
            self.plans[key] = plan
            if len(self.plans) > MAX_PLANS:
                self.plans.popitem(last=False)
            return plan
        self.plans.move_to_end(key)
        return plan
