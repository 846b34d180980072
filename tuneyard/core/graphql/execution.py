"""A faster way to complete lists of plain objects, plugged in as the executor class.

For a list whose items' selected fields are all plain leaf attributes (no resolver, permission, field
extension, arguments, directives or fragments), the result rows are built by a function compiled once per
selection instead of resolving field by field; anything else, or any value that would be an error (a null in a
non-null field), takes graphql-core's normal path. The rows are identical either way. A query with many root
fields runs them one after another (PARALLEL_ROOT_FIELDS). Long list variables of flat input objects are
coerced by tuneyard.core.graphql.variables.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from math import isfinite
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    GraphQLEnumType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLScalarType,
    GraphQLSchema,
    OperationDefinitionNode,
)
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter

from tuneyard.core.graphql.variables import UNCHANGED, coerce_large_lists

Builder = Callable[[Any], "dict[str, Any] | None"]


def _leaf(field_type: GraphQLOutputType) -> tuple[GraphQLScalarType | GraphQLEnumType, bool, bool] | None:
    """(scalar or enum, non-null, list of non-null items) of a leaf field; None for anything else."""
    non_null = isinstance(field_type, GraphQLNonNull)
    inner = field_type.of_type if isinstance(field_type, GraphQLNonNull) else field_type
    if isinstance(inner, GraphQLScalarType | GraphQLEnumType):
        return inner, non_null, False
    if isinstance(inner, GraphQLList) and isinstance(inner.of_type, GraphQLNonNull):
        item = inner.of_type.of_type
        if isinstance(item, GraphQLScalarType | GraphQLEnumType):
            return item, non_null, True
    return None


def _expression(leaf: GraphQLScalarType | GraphQLEnumType, value: str, serializer: str) -> str:
    """Python for the serialized `value`, as graphql-core's serializer for `leaf` would give it."""
    unchanged = UNCHANGED.get(leaf.name) if isinstance(leaf, GraphQLScalarType) else None
    if unchanged is None:
        return f"{serializer}({value})"
    if leaf.name == "ID":  # an int id is written as its decimal string, as serialize_id does
        return f"({value} if type({value}) is str else str({value}) if type({value}) is int else {serializer}({value}))"
    return f"({value} if {unchanged.format(v=value)} else {serializer}({value}))"


def _compile(object_type: GraphQLObjectType, node: FieldNode) -> Builder | None:
    """A function from one item to its result row, or None when the selection needs normal execution.

    Each row is one dict display: every selected attribute read once, a null in a non-null field makes the function
    return None (the caller then takes graphql-core's path, which reports it), and values serialized as above.
    """
    if node.selection_set is None:
        return None
    lines, entries = ["def build(item):"], []
    names: dict[str, Any] = {"isfinite": isfinite}
    for index, selection in enumerate(node.selection_set.selections):
        if not isinstance(selection, FieldNode) or selection.directives or selection.arguments:
            return None
        if selection.selection_set is not None:
            return None
        name = selection.name.value
        key = repr(selection.alias.value if selection.alias else name)
        if name == "__typename":
            entries.append(f"{key}: {object_type.name!r}")
            continue
        field = object_type.fields.get(name)
        definition = field.extensions.get(GraphQLCoreConverter.DEFINITION_BACKREF) if field else None
        # Resolvers, permissions and field extensions run only on the normal path: a field with any of them
        # (an ADMIN-only field, say) must never be read straight off the object.
        if field is None or definition is None or definition.base_resolver is not None:
            return None
        if definition.permission_classes or definition.extensions or not definition.python_name.isidentifier():
            return None
        leaf = _leaf(field.type)
        if leaf is None:
            return None
        scalar, non_null, is_list = leaf
        value, serializer = f"v{index}", f"s{index}"
        names[serializer] = scalar.serialize
        lines.append(f"    {value} = item.{definition.python_name}")
        if non_null:
            lines.append(f"    if {value} is None: return None")
        if is_list:
            built = f"[{_expression(scalar, 'x', serializer)} for x in {value}]"
        else:
            built = _expression(scalar, value, serializer)
        entries.append(f"{key}: {built}" if non_null else f"{key}: None if {value} is None else {built}")
    lines.append(f"    return {{{', '.join(entries)}}}")
    exec("\n".join(lines), names)  # the source is made above from identifiers and repr()s only
    return names["build"]


# Compiled builders by (object type, field node): documents come from the parse cache, so the same query text
# meets the same nodes. Each entry keeps its node, so that its id is not reused while the entry lives.
_builders: dict[tuple[str, int], tuple[FieldNode, Builder | None]] = {}
BUILDER_CACHE_SIZE = 4096


def _builder(object_type: GraphQLObjectType, node: FieldNode) -> Builder | None:
    key = (object_type.name, id(node))
    found = _builders.get(key)
    if found is None or found[0] is not node:
        if len(_builders) >= BUILDER_CACHE_SIZE:
            _builders.clear()
        found = _builders[key] = (node, _compile(object_type, node))
    return found[1]


class Rows(list[dict[str, Any]]):
    """Result rows built here: a list no one else holds, so its encoder may empty it as it goes (orjson encodes
    it as any list)."""


def _rows(build: Builder, items: Iterable[Any]) -> Rows | None:
    """The rows of every item, or None when any of them needs graphql-core's path to report an error."""
    rows = Rows()
    try:
        for item in items:
            row = None if item is None else build(item)
            if row is None:
                return None
            rows.append(row)
    except Exception:  # a value its serializer refuses: the normal path reports it on the field, as it should
        return None
    return rows


# A query with more root fields than this runs them one after another: one request then holds one pooled
# connection at a time, and its work reaches the event loop in pieces that other requests' work goes between
# (20 aliases of a 500-row page finishing at once would hold the loop for their whole sum).
PARALLEL_ROOT_FIELDS = 4


def _operation(document: DocumentNode, name: str | None) -> OperationDefinitionNode | None:
    """The operation graphql-core will run: the one named, or the only one."""
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if name is None:
        return operations[0] if len(operations) == 1 else None
    return next((o for o in operations if o.name is not None and o.name.value == name), None)


class FastListExecutor(StrawberryGraphQLCoreExecutionContext):
    @classmethod
    def build(
        cls,
        schema: GraphQLSchema,
        document: DocumentNode,
        root_value: Any = None,
        context_value: Any = None,
        raw_variable_values: dict[str, Any] | None = None,
        operation_name: str | None = None,
        *rest: Any,
        **options: Any,
    ) -> Any:
        """graphql-core's build, with long lists of flat input objects coerced by tuneyard.core.graphql.variables:
        graphql-core coerces an empty list in their place, then gets the coerced values (and the sources)."""
        operation = _operation(document, operation_name) if raw_variable_values else None
        fast = coerce_large_lists(schema, operation, raw_variable_values or {}) if operation else {}
        raw = {**(raw_variable_values or {}), **{name: [] for name in fast}} if fast else raw_variable_values
        built = super().build(schema, document, root_value, context_value, raw, operation_name, *rest, **options)
        if fast and isinstance(built, cls):
            variables = built.variable_values
            variables.coerced.update(fast)
            for name in fast:
                variables.sources[name] = variables.sources[name]._replace(value=raw_variable_values[name])  # type: ignore[index]
        return built

    def execute_root_grouped_field_set(
        self, root_type: GraphQLObjectType, root_value: Any, grouped_field_set: Any, serially: bool, *rest: Any
    ) -> Any:
        serially = serially or len(grouped_field_set) > PARALLEL_ROOT_FIELDS
        return super().execute_root_grouped_field_set(root_type, root_value, grouped_field_set, serially, *rest)

    def complete_iterable_value(
        self,
        item_type: GraphQLOutputType,
        field_details_list: Any,
        info: Any,
        path: Any,
        items: Iterable[Any],
        position_context: Any,
    ) -> Any:
        inner = item_type.of_type if isinstance(item_type, GraphQLNonNull) else item_type
        if isinstance(inner, GraphQLObjectType) and len(field_details_list) == 1 and isinstance(items, list):
            build = _builder(inner, field_details_list[0].node)
            if build is not None and inner.is_type_of is None:
                rows = _rows(build, items)
                if rows is not None:
                    return rows
        return super().complete_iterable_value(item_type, field_details_list, info, path, items, position_context)
