"""Direct serializers for the current-list queries (mailServers, mailServer, mailServerChoices).

A document's selection sets are compiled once (fragments, aliases, @skip/@include
and variables resolved) into a plan that writes the answer's JSON without
graphql-core's per-field work. Each server's serialized part is kept, keyed by
its version and position, so after a change to one server a list is assembled
from 999 kept parts and one new one. A plan is used only after its answer was
found byte for byte equal to Strawberry's own (see api/cached_reads.py);
anything it does not know makes it refuse to compile (NotCompilableError)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from functools import lru_cache
from typing import Any, cast

from graphql import (
    DirectiveNode,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLBoolean,
    GraphQLError,
    GraphQLField,
    GraphQLInputType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    Undefined,
    coerce_input_value,
    is_leaf_type,
    parse,
    type_from_ast,
    value_from_ast,
)

from api.schema import schema
from api.types import MailServer, MailServerChoice
from domain.model import Server
from domain.state import ServerList


class NotCompilableError(Exception):
    """The document asks for something the plans do not serve; Strawberry answers it instead."""


def _dumps(value: Any) -> str:
    # Exactly as Strawberry encodes its answers (strawberry/http/base.py).
    return json.dumps(value, separators=(",", ":"))


_GRAPHQL = schema._schema
Render = Callable[[Any], Any]


class Collector:
    """GraphQL's CollectFields for one operation, with its variables already known."""

    def __init__(self, fragments: dict[str, FragmentDefinitionNode], variables: dict[str, Any]) -> None:
        self.fragments = fragments
        self.variables = variables

    def _included(self, directives: Iterable[DirectiveNode]) -> bool:
        for directive in directives:
            name = directive.name.value
            if name not in ("skip", "include"):
                raise NotCompilableError(f"directive @{name}")
            (argument,) = directive.arguments or ()
            condition = value_from_ast(argument.value, GraphQLNonNull(GraphQLBoolean), self.variables)
            if not isinstance(condition, bool):
                raise NotCompilableError("a directive condition that is not a boolean")
            if condition == (name == "skip"):
                return False
        return True

    def collect(self, type_name: str, selection_sets: Iterable[SelectionSetNode]) -> dict[str, list[FieldNode]]:
        """The fields selected on an object of `type_name`, by response key, in GraphQL's order."""
        fields: dict[str, list[FieldNode]] = {}
        visited: set[str] = set()
        for selection_set in selection_sets:
            self._into(fields, visited, type_name, selection_set)
        return fields

    def _into(
        self, fields: dict[str, list[FieldNode]], visited: set[str], type_name: str, selection_set: SelectionSetNode
    ) -> None:
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                if self._included(selection.directives or ()):
                    key = selection.alias.value if selection.alias else selection.name.value
                    fields.setdefault(key, []).append(selection)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                if self._included(selection.directives or ()) and (
                    condition is None or condition.name.value == type_name
                ):
                    self._into(fields, visited, type_name, selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                if name in visited or not self._included(selection.directives or ()):
                    continue
                visited.add(name)
                fragment = self.fragments[name]
                if fragment.type_condition.name.value == type_name:
                    self._into(fields, visited, type_name, fragment.selection_set)
            else:
                raise NotCompilableError(f"selection {type(selection).__name__}")


def _sub_selections(nodes: list[FieldNode]) -> list[SelectionSetNode]:
    return [node.selection_set for node in nodes if node.selection_set is not None]


def _value_renderer(collector: Collector, type_: GraphQLOutputType, nodes: list[FieldNode]) -> Render:
    """How a resolved value of `type_` becomes JSON-ready data, as graphql-core completes it."""
    if isinstance(type_, GraphQLNonNull):
        return _value_renderer(collector, type_.of_type, nodes)
    if isinstance(type_, GraphQLList):
        item = _value_renderer(collector, type_.of_type, nodes)
        return lambda value: None if value is None else [item(v) for v in value]
    if is_leaf_type(type_):
        serialize = type_.serialize
        return lambda value: None if value is None else serialize(value)
    if isinstance(type_, GraphQLObjectType):
        return object_renderer(collector, type_, _sub_selections(nodes))
    raise NotCompilableError(f"type {type_}")


# Where an object keeps a selected field's value (None: its __typename), and how that value is sent.
FieldEntry = Callable[["Collector", GraphQLObjectType, GraphQLField, list[FieldNode]], tuple[str, Render]]


def _attribute(
    collector: Collector, type_: GraphQLObjectType, field: GraphQLField, nodes: list[FieldNode]
) -> tuple[str, Render]:
    definition = field.extensions.get("strawberry-definition")
    # Only fields that are plain attributes: a resolver may do anything.
    if definition is None or getattr(definition, "base_resolver", None):
        raise NotCompilableError(f"{type_.name}.{nodes[0].name.value}")
    return definition.python_name, _value_renderer(collector, field.type, nodes)


def object_renderer(
    collector: Collector,
    type_: GraphQLObjectType,
    selection_sets: list[SelectionSetNode],
    entry: FieldEntry | None = None,
    read: Callable[[Any, str], Any] = getattr,
) -> Render:
    """How an object becomes a dict in the selection's order: by default a plain-field Strawberry object, each
    field read as its attribute; `entry` and `read` say where another kind of object keeps its fields."""
    entries: list[tuple[str, str | None, Render | None]] = []
    for key, nodes in collector.collect(type_.name, selection_sets).items():
        name = nodes[0].name.value
        if name == "__typename":
            entries.append((key, None, None))
            continue
        field = type_.fields.get(name)
        if field is None or field.args:
            raise NotCompilableError(f"{type_.name}.{name}")
        entries.append((key, *(entry or _attribute)(collector, type_, field, nodes)))
    type_name = type_.name

    def render(value: Any) -> Any:
        if value is None:
            return None
        return {
            key: type_name if where is None else cast(Render, complete)(read(value, where))
            for key, where, complete in entries
        }

    return render


class _Parts:
    """One serialized part per server, kept while the server's version and position stay."""

    def __init__(self, part: Callable[[Server, int], str]) -> None:
        self.part = part
        self.kept: dict[str, tuple[int, int, str]] = {}

    def join(self, servers: ServerList) -> str:
        """The JSON array of every server's part, in the list's order."""
        kept, fresh = self.kept, {}
        for position, server_id in enumerate(servers.order, start=1):
            server = servers.servers[server_id]
            entry = kept.get(server_id)
            if entry is None or entry[0] != server.version or entry[1] != position:
                entry = (server.version, position, self.part(server, position))
            fresh[server_id] = entry
        self.kept = fresh  # servers that left the list leave with it
        return "[" + ",".join(entry[2] for entry in fresh.values()) + "]"


RootRender = Callable[[ServerList], str]


def _server_part(render: Render) -> Callable[[Server, int], str]:
    return lambda server, position: _dumps(render(MailServer.from_domain(server, position)))


def _mail_servers(collector: Collector, nodes: list[FieldNode]) -> RootRender:
    list_type = cast(GraphQLObjectType, _GRAPHQL.get_type("MailServerList"))
    entries: list[tuple[str, Callable[[ServerList], str]]] = []
    for key, fields in collector.collect(list_type.name, _sub_selections(nodes)).items():
        name = fields[0].name.value
        if name == "__typename":
            entries.append((key, lambda _s: '"MailServerList"'))
        elif name == "version":
            entries.append((key, lambda s: _dumps(s.list_version)))
        elif name == "totalCount":
            entries.append((key, lambda s: _dumps(len(s.order))))
        elif name == "items":
            server_type = cast(GraphQLObjectType, _GRAPHQL.get_type("MailServer"))
            server = object_renderer(collector, server_type, _sub_selections(fields))
            entries.append((key, _Parts(_server_part(server)).join))
        else:
            raise NotCompilableError(f"MailServerList.{name}")
    return lambda servers: "{" + ",".join(f"{_dumps(key)}:{text(servers)}" for key, text in entries) + "}"


def _mail_server_choices(collector: Collector, nodes: list[FieldNode]) -> RootRender:
    choice = object_renderer(
        collector, cast(GraphQLObjectType, _GRAPHQL.get_type("MailServerChoice")), _sub_selections(nodes)
    )
    return _Parts(lambda server, _position: _dumps(choice(MailServerChoice.from_domain(server)))).join


def _mail_server(collector: Collector, nodes: list[FieldNode]) -> RootRender:
    field = _GRAPHQL.query_type.fields["mailServer"] if _GRAPHQL.query_type else None
    if field is None:
        raise NotCompilableError("Query.mailServer")
    arguments: dict[str, Any] = {}
    for argument in nodes[0].arguments or ():
        definition = field.args[argument.name.value]
        value = value_from_ast(argument.value, definition.type, collector.variables)
        arguments[argument.name.value] = None if value is Undefined else value
    server_id, code = arguments.get("id"), arguments.get("code")
    if (server_id is None) == (code is None):
        raise NotCompilableError("mailServer needs exactly one of id and code")  # an error: Strawberry's to answer
    render = object_renderer(
        collector, cast(GraphQLObjectType, _GRAPHQL.get_type("MailServer")), _sub_selections(nodes)
    )

    def text(servers: ServerList) -> str:
        found = servers.get(str(server_id)) if server_id is not None else servers.holder_of(str(code).strip())
        if found is None:
            return "null"
        return _dumps(render(MailServer.from_domain(found, servers.position_of(found.id))))

    return text


_ROOTS: dict[str, Callable[[Collector, list[FieldNode]], RootRender]] = {
    "mailServers": _mail_servers,
    "mailServerChoices": _mail_server_choices,
    "mailServer": _mail_server,
}


class ReadPlan:
    """A compiled current-list query: `render(servers)` is the whole JSON answer, as bytes."""

    def __init__(self, roots: list[tuple[str, RootRender]]) -> None:
        self.roots = roots

    def render(self, servers: ServerList) -> bytes:
        """The answer to the query over this list, byte for byte as Strawberry would send it."""
        data = ",".join(f"{_dumps(key)}:{text(servers)}" for key, text in self.roots)
        return ('{"data":{' + data + "}}").encode()


def _variables(operation: OperationDefinitionNode, given: dict[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for definition in operation.variable_definitions or ():
        name = definition.variable.name.value
        type_ = cast(GraphQLInputType, type_from_ast(_GRAPHQL, definition.type))
        if name in given:
            values[name] = coerce_input_value(given[name], type_)
        elif definition.default_value is not None:
            values[name] = value_from_ast(definition.default_value, type_, {})
    return values


@lru_cache(maxsize=256)
def _parsed(document: str) -> DocumentNode:
    # A plan is compiled per document and variables (mailServer(id: $id) once
    # per id); the parse is shared, as each parse leaves its tokens, linked both
    # ways, to the cyclic collector.
    return parse(document, no_location=True)


def compile_plan(document: str, operation_name: str | None, variables: dict[str, Any] | None) -> ReadPlan:
    """The plan of a query over the current list, or NotCompilableError."""
    try:
        parsed = _parsed(document)
        operations = [d for d in parsed.definitions if isinstance(d, OperationDefinitionNode)]
        if operation_name is not None:
            operations = [o for o in operations if o.name is not None and o.name.value == operation_name]
        if len(operations) != 1 or operations[0].operation.value != "query":
            raise NotCompilableError("not exactly one query")
        operation = operations[0]
        fragments = {d.name.value: d for d in parsed.definitions if isinstance(d, FragmentDefinitionNode)}
        collector = Collector(fragments, _variables(operation, variables or {}))
        roots: list[tuple[str, RootRender]] = []
        for key, nodes in collector.collect("Query", [operation.selection_set]).items():
            name = nodes[0].name.value
            if name == "__typename":
                roots.append((key, lambda _s: '"Query"'))
            elif name in _ROOTS:
                roots.append((key, _ROOTS[name](collector, nodes)))
            else:
                raise NotCompilableError(f"Query.{name}")
    except (GraphQLError, KeyError, ValueError, TypeError) as error:
        raise NotCompilableError(str(error)) from error
    if not roots:
        raise NotCompilableError("nothing selected")
    return ReadPlan(roots)
