"""The shape of a valid document: its depth, its aliases, and each operation's cost and rows as functions of the
variables, worked out in one walk (each fragment once) and cached by query text."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
    get_named_type,
    parse,
)

# A connection's `first`/`last` when neither the request nor the schema gives one.
DEFAULT_ROWS = 50
CACHE_SIZE = 1024

FieldWeights = frozenset[tuple[str, int]]  # ("Type.field", weight): hashable, so it can key the cache


@dataclass(frozen=True, slots=True)
class Cost:
    """An estimate as a function of the variables: constant + sum of coefficient x $variable x nested."""

    constant: int = 0
    # (coefficient, variable, its value when the request gives none, the cost of each row)
    terms: tuple[tuple[int, str, int, Cost], ...] = ()

    def times(self, factor: int) -> Cost:
        return Cost(self.constant * factor, tuple((c * factor, v, d, n) for c, v, d, n in self.terms))

    def evaluate(self, variables: Mapping[str, object], memo: dict[int, int]) -> int:
        """The value for these variables; `memo` spares shared parts (fragments) a second evaluation."""
        total = self.constant
        for coefficient, variable, default, nested in self.terms:
            value = variables.get(variable)
            rows = value if type(value) is int and value >= 0 else default
            per_row = memo.get(id(nested))
            if per_row is None:
                per_row = memo[id(nested)] = nested.evaluate(variables, memo)
            total += coefficient * rows * per_row
        return total


NOTHING = Cost()


def _sum(parts: Iterable[Cost]) -> Cost:
    """Parts added up, terms on the same variable and nested cost merged, so fragment spreads stay small."""
    constant = 0
    merged: dict[tuple[str, int, int], tuple[int, Cost]] = {}
    for part in parts:
        constant += part.constant
        for coefficient, variable, default, nested in part.terms:
            key = (variable, default, id(nested))
            before = merged.get(key, (0, nested))[0]
            merged[key] = (before + coefficient, nested)
    return Cost(constant, tuple((c, key[0], key[1], n) for key, (c, n) in merged.items()))


@dataclass(frozen=True, slots=True)
class Operation:
    """One operation's estimates: its cost (fields x rows, plus weights) and the rows it selects in all."""

    cost: Cost
    rows: Cost
    defaults: dict[str, int]  # the operation's integer variable defaults

    def evaluate(self, variables: Mapping[str, object] | None) -> int:
        """The estimated cost for these variables."""
        return self._evaluate(self.cost, variables)

    def evaluate_rows(self, variables: Mapping[str, object] | None) -> int:
        """How many rows it selects at most for these variables: `first`/`last` multiplied down, over aliases."""
        return self._evaluate(self.rows, variables)

    def _evaluate(self, estimate: Cost, variables: Mapping[str, object] | None) -> int:
        if not estimate.terms:
            return estimate.constant
        return estimate.evaluate({**self.defaults, **(variables or {})}, {})


@dataclass(frozen=True, slots=True)
class Shape:
    """What a valid document asks for: its depth, its aliases and each operation's estimates."""

    depth: int
    aliases: int
    operations: dict[str | None, Operation]


Found = tuple[int, Cost, Cost]  # (depth, cost, rows) of a selection


class _Walk:
    """One pass over a valid document; each fragment is walked once, however often it is spread."""

    def __init__(self, schema: GraphQLSchema, document: DocumentNode, weights: Mapping[str, int]) -> None:
        self.schema = schema
        self.weights = weights
        self.fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
        self.walked: dict[str, Found] = {}
        self.aliases = 0

    def selections(self, selection_set: SelectionSetNode, parent: GraphQLNamedType | None) -> Found:
        """(depth, cost, rows) of a selection set on `parent` (None where the schema has no such type)."""
        depth, costs, rows = 0, [], []
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                found = self.field(selection, parent)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                on = self.schema.get_type(condition.name.value) if condition else parent
                found = self.selections(selection.selection_set, on)
            else:
                assert isinstance(selection, FragmentSpreadNode)
                found = self.fragment(selection.name.value)
            depth = max(depth, found[0])
            costs.append(found[1])
            rows.append(found[2])
        return depth, _sum(costs), _sum(rows)

    def field(self, node: FieldNode, parent: GraphQLNamedType | None) -> Found:
        self.aliases += node.alias is not None
        name = node.name.value
        definition = parent.fields.get(name) if isinstance(parent, GraphQLObjectType | GraphQLInterfaceType) else None
        own = Cost(self.weights.get(f"{parent.name}.{name}", 1) if parent else 1)
        if node.selection_set is None:
            return 1, own, NOTHING
        depth, each, each_rows = self.selections(
            node.selection_set, get_named_type(definition.type) if definition else None
        )
        count = _count(node, definition)
        if count is None:  # not a connection: its rows are those of the connections below it
            return depth + 1, _sum((own, each)), each_rows
        row_and_below = _sum((Cost(1), each_rows))  # each row, and the rows selected under it
        if isinstance(count, int):
            return depth + 1, _sum((own, each.times(count))), row_and_below.times(count)
        variable, default = count
        return (
            depth + 1,
            Cost(own.constant, ((1, variable, default, each),)),
            Cost(0, ((1, variable, default, row_and_below),)),
        )

    def fragment(self, name: str) -> Found:
        if name not in self.walked:
            fragment = self.fragments[name]
            self.walked[name] = self.selections(
                fragment.selection_set, self.schema.get_type(fragment.type_condition.name.value)
            )
        return self.walked[name]


def _count(node: FieldNode, definition: GraphQLField | None) -> int | tuple[str, int] | None:
    """How many rows a field with a `first` or `last` argument returns: a number, or (variable, default); None
    for a field without either argument."""
    names = [name for name in ("first", "last") if definition is not None and name in definition.args]
    if definition is None or not names:
        return None
    schema_default = definition.args[names[0]].default_value
    default = schema_default if type(schema_default) is int else DEFAULT_ROWS
    given = {a.name.value: a.value for a in node.arguments or () if a.name.value in names}
    for value in given.values():
        if isinstance(value, IntValueNode):
            return max(int(value.value), 0)
        if isinstance(value, VariableNode):
            return value.name.value, default
    return default  # not given, or null


def shape(schema: GraphQLSchema, document: DocumentNode, weights: FieldWeights) -> Shape:
    """The shape of a valid document: its depth, its aliases, and each operation's estimates."""
    walk = _Walk(schema, document, dict(weights))
    depth, operations = 0, {}
    for definition in document.definitions:
        if not isinstance(definition, OperationDefinitionNode):
            continue
        root = schema.get_root_type(definition.operation)
        found = walk.selections(definition.selection_set, root)
        depth = max(depth, found[0])
        defaults = {
            v.variable.name.value: int(v.default_value.value)
            for v in definition.variable_definitions or ()
            if isinstance(v.default_value, IntValueNode)
        }
        operations[definition.name.value if definition.name else None] = Operation(found[1], found[2], defaults)
    return Shape(depth, walk.aliases, operations)


# Parsed documents by (query text, token cap): a repeated query is one dictionary lookup.
parse_cached = lru_cache(maxsize=CACHE_SIZE)(parse)


@lru_cache(maxsize=CACHE_SIZE)
def query_shape(schema: GraphQLSchema, query: str, tokens: int, weights: FieldWeights) -> Shape:
    """The shape of a valid query, cached by its text: hashing a document (a frozen dataclass) walks all of it."""
    return shape(schema, parse_cached(query, max_tokens=tokens), weights)
