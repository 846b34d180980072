"""A faster way to coerce large list variables of flat input objects, such as recordExamples' batch.

graphql-core coerces a variable value by walking it field by field through generic functions (~25 ms for 1,000
examples). For an input object whose fields are all leaves (scalars, enums, lists of them), a function compiled
once per type does the same with inline type tests. It either returns exactly the value graphql-core would (the
same dicts, keyed by out name, defaults filled in) or says it cannot, and then graphql-core coerces the variable
itself and reports its errors in its own words: a bad value never depends on this path for its error message.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from math import isfinite
from typing import Any

from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLScalarType,
    GraphQLSchema,
    ListTypeNode,
    NamedTypeNode,
    NonNullTypeNode,
    OperationDefinitionNode,
    TypeNode,
    Undefined,
    get_named_type,
)
from graphql.utilities.coerce_input_value import coerce_default_value

Coercer = Callable[[Any], Any]  # a value -> its coerced value, or Undefined when graphql-core must decide

# A list variable shorter than this is left to graphql-core: compiling and the bookkeeping would not pay.
MIN_ITEMS = 50

# Values that a built-in scalar returns unchanged, both coercing input and serializing output, so that compiled code
# tests them inline instead of calling it: `{v}` is the value. Anything else (another type, a NaN, an Int out of
# range) still goes through the scalar's function, with its error. (tuneyard.core.graphql.execution uses it too.)
UNCHANGED = {
    "String": "type({v}) is str",
    "ID": "type({v}) is str",
    "Boolean": "type({v}) is bool",
    "Float": "type({v}) is float and isfinite({v})",
    "Int": "type({v}) is int and -2147483648 <= {v} <= 2147483647",
}


def _leaf_lines(leaf: GraphQLScalarType | GraphQLEnumType, value: str, target: str, coerce: str) -> list[str]:
    """Statements that set `target` to the coerced non-null `value`, or return Undefined as graphql-core would
    (its coercion returns Undefined when the leaf's coerce_input_value raises, or returns Undefined)."""
    attempt = [
        "try:",
        f"    {target} = {coerce}({value})",
        "except Exception:",
        "    return UNDEFINED",
        f"if {target} is UNDEFINED:",
        "    return UNDEFINED",
    ]
    unchanged = UNCHANGED.get(leaf.name) if isinstance(leaf, GraphQLScalarType) else None
    if unchanged is None:
        return attempt
    return [f"if {unchanged.format(v=value)}:", f"    {target} = {value}", "else:", *(f"    {a}" for a in attempt)]


def _field_lines(type_: GraphQLInputType, value: str, target: str, coerce: str) -> list[str] | None:
    """Statements coercing one present field value into `target`; None when the type is not a leaf or a list
    of leaves."""
    non_null = isinstance(type_, GraphQLNonNull)
    inner = type_.of_type if isinstance(type_, GraphQLNonNull) else type_
    lines = [f"if {value} is None:", "    return UNDEFINED" if non_null else f"    {target} = None", "else:"]
    if isinstance(inner, GraphQLScalarType | GraphQLEnumType):
        return [*lines, *(f"    {line}" for line in _leaf_lines(inner, value, target, coerce))]
    if not isinstance(inner, GraphQLList):
        return None
    item_type = inner.of_type
    item_non_null = isinstance(item_type, GraphQLNonNull)
    leaf = item_type.of_type if isinstance(item_type, GraphQLNonNull) else item_type
    if not isinstance(leaf, GraphQLScalarType | GraphQLEnumType):
        return None
    # Only a JSON list takes this path: graphql-core reads a single value as a list of one, and decides that case.
    item_lines = [
        "if x is None:",
        "    return UNDEFINED" if item_non_null else "    y = None",
        "else:",
        *(f"    {line}" for line in _leaf_lines(leaf, "x", "y", coerce)),
        "items.append(y)",
    ]
    return [
        *lines,
        f"    if type({value}) is not list: return UNDEFINED",
        "    items = []",
        f"    for x in {value}:",
        *(f"        {line}" for line in item_lines),
        f"    {target} = items",
    ]


def compile_input_object(type_: GraphQLInputObjectType) -> Coercer | None:
    """The coercer of one value of a flat input object type, or None when the type is not flat (or is @oneOf)."""
    if type_.is_one_of:
        return None
    names: dict[str, Any] = {"UNDEFINED": Undefined, "isfinite": isfinite, "KNOWN": frozenset(type_.fields)}
    body = ["if type(value) is not dict or not KNOWN.issuperset(value): return UNDEFINED", "out = {}"]
    for index, (name, field) in enumerate(type_.fields.items()):
        value, out_name = f"v{index}", field.out_name or name
        target = f"out[{out_name!r}]"
        present = _field_lines(field.type, value, target, f"c{index}")
        if present is None:
            return None
        names[f"c{index}"] = get_named_type(field.type).coerce_input_value  # a scalar or enum: _field_lines saw to it
        body.append(f"{value} = value.get({name!r}, UNDEFINED)")
        body.append(f"if {value} is UNDEFINED:")
        default = coerce_default_value(field)
        if isinstance(field.type, GraphQLNonNull) and default is Undefined:
            body.append("    return UNDEFINED")
        elif default is Undefined:
            body.append("    pass")
        else:
            names[f"d{index}"] = default
            body.append(f"    {target} = d{index}")
        body.append("else:")
        body.extend(f"    {line}" for line in present)
    body.append("return out_type(out)")
    names["out_type"] = type_.out_type
    source = "def coerce(value):\n" + "\n".join(f"    {line}" for line in body)
    exec(source, names)  # the source is made above from identifiers and repr()s only
    return names["coerce"]


_coercers: dict[str, tuple[GraphQLInputObjectType, Coercer | None]] = {}


def _coercer(type_: GraphQLInputObjectType) -> Coercer | None:
    found = _coercers.get(type_.name)
    if found is None or found[0] is not type_:
        found = _coercers[type_.name] = (type_, compile_input_object(type_))
    return found[1]


def _list_item_type(schema: GraphQLSchema, node: TypeNode) -> GraphQLInputObjectType | None:
    """The item type of a variable typed as a list of input objects, e.g. [ExampleInput!]!; None otherwise."""
    node = node.type if isinstance(node, NonNullTypeNode) else node
    if not isinstance(node, ListTypeNode):
        return None
    item = node.type.type if isinstance(node.type, NonNullTypeNode) else node.type
    found = schema.get_type(item.name.value) if isinstance(item, NamedTypeNode) else None
    return found if isinstance(found, GraphQLInputObjectType) else None


def coerce_large_lists(
    schema: GraphQLSchema, operation: OperationDefinitionNode, raw: Mapping[str, Any]
) -> dict[str, list[Any]]:
    """The coerced values of the operation's long list-of-input-object variables that take the fast path.

    A variable missing here (short, another type, or a value the fast path cannot vouch for, such as a null item)
    is left to graphql-core.
    """
    coerced: dict[str, list[Any]] = {}
    for definition in operation.variable_definitions or ():
        name = definition.variable.name.value
        value = raw.get(name)
        if type(value) is not list or len(value) < MIN_ITEMS:
            continue
        item_type = _list_item_type(schema, definition.type)
        coerce = None if item_type is None else _coercer(item_type)
        if coerce is None:
            continue
        items = [coerce(item) for item in value]
        if not any(item is Undefined for item in items):
            coerced[name] = items
    return coerced
