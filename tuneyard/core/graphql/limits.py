"""Query limits (depth, aliases, tokens, estimated cost), checked without defeating the caches.

The document is parsed within the token cap, cached by query text. graphql-core's validation stays
cached by Strawberry's ValidationCache, and runs first. The shape of a valid document (its depth, its
aliases and each operation's cost as a function of the variables) is worked out once and cached by
query text; per request only that function is evaluated with the request's variables.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLSyntaxError,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
    get_named_type,
    parse,
)
from strawberry.extensions import ValidationCache

from tuneyard.core.config import Settings

# A connection's `first`/`last` when neither the request nor the schema gives one.
DEFAULT_ROWS = 50
CACHE_SIZE = 1024

# Each refusal has its own code, so that a client can tell which limit it hit.
TOO_DEEP, TOO_MANY_ALIASES, TOO_MANY_TOKENS, TOO_COMPLEX = (
    "QUERY_TOO_DEEP", "TOO_MANY_ALIASES", "TOO_MANY_TOKENS", "QUERY_TOO_COMPLEX",
)  # fmt: skip

FieldWeights = frozenset[tuple[str, int]]  # ("Type.field", weight): hashable, so it can key the cache


@dataclass(frozen=True, slots=True)
class Limits:
    """The ceilings every request is held to (Settings.query_max_*)."""

    depth: int
    aliases: int
    tokens: int
    cost: int

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        return cls(
            settings.query_max_depth, settings.query_max_aliases, settings.query_max_tokens, settings.query_max_cost
        )

    @classmethod
    def of(cls, context: object) -> Limits:
        """The limits in the request context's settings; the default ones for a context without settings."""
        settings = getattr(context, "settings", None)
        return cls.from_settings(settings) if isinstance(settings, Settings) else DEFAULT_LIMITS


DEFAULT_LIMITS = Limits.from_settings(Settings.model_construct())  # the defaults, without reading the environment


@dataclass(frozen=True, slots=True)
class Cost:
    """An estimated cost as a function of the variables: constant + sum of coefficient x $variable x nested."""

    constant: int = 0
    # (coefficient, variable, its value when the request gives none, the cost of each row)
    terms: tuple[tuple[int, str, int, Cost], ...] = ()

    def times(self, factor: int) -> Cost:
        return Cost(self.constant * factor, tuple((c * factor, v, d, n) for c, v, d, n in self.terms))

    def evaluate(self, variables: Mapping[str, object], memo: dict[int, int]) -> int:
        """The cost for these variable values; `memo` spares shared parts (fragments) a second evaluation."""
        total = self.constant
        for coefficient, variable, default, nested in self.terms:
            value = variables.get(variable)
            rows = value if type(value) is int and value >= 0 else default
            per_row = memo.get(id(nested))
            if per_row is None:
                per_row = memo[id(nested)] = nested.evaluate(variables, memo)
            total += coefficient * rows * per_row
        return total


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
    cost: Cost
    defaults: dict[str, int]  # the operation's integer variable defaults

    def evaluate(self, variables: Mapping[str, object] | None) -> int:
        if not self.cost.terms:
            return self.cost.constant
        return self.cost.evaluate({**self.defaults, **(variables or {})}, {})


@dataclass(frozen=True, slots=True)
class Shape:
    """What a valid document asks for: its depth, its aliases and each operation's cost."""

    depth: int
    aliases: int
    operations: dict[str | None, Operation]

    def refusal(
        self, limits: Limits, operation: str | None, variables: Mapping[str, object] | None
    ) -> GraphQLError | None:
        """The error that refuses this request, or None when it is within every limit."""
        if self.depth > limits.depth:
            return _refused(
                f"the query is nested {self.depth} levels deep; at most {limits.depth} are allowed", TOO_DEEP
            )
        if self.aliases > limits.aliases:
            return _refused(
                f"the query uses {self.aliases} aliases; at most {limits.aliases} are allowed", TOO_MANY_ALIASES
            )
        found = self.operations.get(operation)
        cost = 0 if found is None else found.evaluate(variables)
        if cost > limits.cost:
            return _refused(
                f"the query's estimated cost is {cost:,}, over the limit of {limits.cost:,}: ask for fewer rows "
                "(first/last multiply down nested connections) or fewer expensive fields (stats)",
                TOO_COMPLEX,
            )
        return None


def _refused(message: str, code: str) -> GraphQLError:
    return GraphQLError(message, extensions={"code": code})


class _Walk:
    """One pass over a valid document; each fragment is walked once, however often it is spread."""

    def __init__(self, schema: GraphQLSchema, document: DocumentNode, weights: Mapping[str, int]) -> None:
        self.schema = schema
        self.weights = weights
        self.fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
        self.walked: dict[str, tuple[int, Cost]] = {}
        self.aliases = 0

    def selections(self, selection_set: SelectionSetNode, parent: GraphQLNamedType | None) -> tuple[int, Cost]:
        """(depth, cost) of a selection set on `parent` (None where the schema has no such type)."""
        depth, parts = 0, []
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
            parts.append(found[1])
        return depth, _sum(parts)

    def field(self, node: FieldNode, parent: GraphQLNamedType | None) -> tuple[int, Cost]:
        self.aliases += node.alias is not None
        name = node.name.value
        definition = parent.fields.get(name) if isinstance(parent, GraphQLObjectType | GraphQLInterfaceType) else None
        own = Cost(self.weights.get(f"{parent.name}.{name}", 1) if parent else 1)
        if node.selection_set is None:
            return 1, own
        depth, each = self.selections(node.selection_set, get_named_type(definition.type) if definition else None)
        rows = _rows(node, definition)
        if isinstance(rows, int):
            return depth + 1, _sum((own, each.times(rows)))
        return depth + 1, Cost(own.constant, ((1, rows[0], rows[1], each),))

    def fragment(self, name: str) -> tuple[int, Cost]:
        if name not in self.walked:
            fragment = self.fragments[name]
            self.walked[name] = self.selections(
                fragment.selection_set, self.schema.get_type(fragment.type_condition.name.value)
            )
        return self.walked[name]


def _rows(node: FieldNode, definition: GraphQLField | None) -> int | tuple[str, int]:
    """How many rows a field with a `first` or `last` argument returns: a number, or (variable, default)."""
    names = [name for name in ("first", "last") if definition is not None and name in definition.args]
    if definition is None or not names:
        return 1
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
    """The shape of a valid document: its depth, its aliases, and each operation's cost."""
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
        operations[definition.name.value if definition.name else None] = Operation(found[1], defaults)
    return Shape(depth, walk.aliases, operations)


# Parsed documents by (query text, token cap): a repeated query is one dictionary lookup.
_parse = lru_cache(maxsize=CACHE_SIZE)(parse)


@lru_cache(maxsize=CACHE_SIZE)
def query_shape(schema: GraphQLSchema, query: str, tokens: int, weights: FieldWeights) -> Shape:
    """The shape of a valid query, cached by its text: hashing a document (a frozen dataclass) walks all of it."""
    return shape(schema, _parse(query, max_tokens=tokens), weights)


def _parse_failure_code(error: GraphQLSyntaxError) -> str:
    # graphql-core tells its token cap apart from other syntax errors only by the message.
    return TOO_MANY_TOKENS if error.message.endswith("tokens. Parsing aborted.") else "GRAPHQL_PARSE_FAILED"


class QueryLimits(ValidationCache):
    """Strawberry's parse and validation caches, with the limits: tokens when parsing, the rest once valid.

    It takes the place of ParserCache and ValidationCache (one extension, so no more hooks per request than
    before): documents are parsed within the token cap and cached by query text, validated through
    ValidationCache's cache, then measured against the depth, alias and cost limits.
    """

    def __init__(self, weights: FieldWeights = frozenset(), maxsize: int = CACHE_SIZE) -> None:
        super().__init__(maxsize=maxsize)
        self.weights = weights
        self.limits = DEFAULT_LIMITS

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        self.limits = Limits.of(context.context)  # one extension per request: read the settings once
        tokens = self.limits.tokens
        context.parse_options["max_tokens"] = tokens
        with contextlib.suppress(GraphQLSyntaxError):
            context.graphql_document = _parse(context.query, max_tokens=tokens)
        yield
        # A document that does not parse is parsed again by Strawberry, which reports the error on every
        # transport (HTTP and WebSocket alike); here it gets its code before it is sent.
        for error in context.pre_execution_errors or ():
            if isinstance(error, GraphQLSyntaxError):
                error.extensions = {"code": _parse_failure_code(error)}

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        errors = self.cached_validate_document(
            context.schema._schema, context.graphql_document, context.validation_rules
        )
        if not errors and context.query is not None:
            found = query_shape(context.schema._schema, context.query, self.limits.tokens, self.weights)
            refusal = found.refusal(self.limits, context.operation_name, context.variables)
            errors = [refusal] if refusal is not None else errors
        context.pre_execution_errors = errors
        yield
