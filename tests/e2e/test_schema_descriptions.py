"""The exported schema explains itself: GraphiQL's documentation explorer shows a
description for every type, field, argument, input field and enum value."""

from __future__ import annotations

from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    build_schema,
)

from api.schema import sdl


def undescribed(type_: GraphQLNamedType) -> list[str]:
    """The elements of one type that have no description, by their schema coordinate."""
    missing = [] if type_.description else [type_.name]
    if isinstance(type_, (GraphQLObjectType, GraphQLInterfaceType)):
        for name, field in type_.fields.items():
            missing += [] if field.description else [f"{type_.name}.{name}"]
            missing += [f"{type_.name}.{name}({arg})" for arg, a in field.args.items() if not a.description]
    if isinstance(type_, GraphQLInputObjectType):
        missing += [f"{type_.name}.{name}" for name, f in type_.fields.items() if not f.description]
    if isinstance(type_, GraphQLEnumType):
        missing += [f"{type_.name}.{name}" for name, v in type_.values.items() if not v.description]
    return missing


def test_every_element_of_the_exported_schema_has_a_description():
    schema = build_schema(sdl())
    types = [t for name, t in schema.type_map.items() if not name.startswith("__")]
    missing = [coordinate for type_ in types for coordinate in undescribed(type_)]
    assert missing == []


def test_the_check_finds_an_element_without_a_description():
    schema = build_schema('"A thing." type Query { "Described." a: Int, b(x: Int): Int }')
    assert undescribed(schema.type_map["Query"]) == ["Query.b", "Query.b(x)"]
