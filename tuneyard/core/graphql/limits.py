"""Query limits (length, tokens, depth, aliases, estimated cost, rows, expensive requests per token), checked
without defeating the caches and without holding the event loop.

The document is parsed within the token cap, cached by query text. graphql-core's validation runs first, its
errors cached by query text too (Strawberry's ValidationCache keys on the document, and hashing a document walks
all of it on every request). The shape of a valid document (tuneyard.core.graphql.cost) is
worked out once and cached by query text; per request only its estimates are evaluated with the request's
variables. A long document seen for the first time is parsed, validated and shaped in a thread, so that the
pure-Python work on it never holds the event loop for other requests.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from graphql import DocumentNode, GraphQLError, GraphQLSchema, GraphQLSyntaxError
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import validate_document
from strawberry.types import ExecutionContext
from strawberry.types.graphql import OperationType

from tuneyard.core.config import Settings
from tuneyard.core.graphql.cost import CACHE_SIZE, FieldWeights, Shape, parse_cached, query_shape

# Each refusal has its own code, so that a client can tell which limit it hit.
TOO_LONG, TOO_DEEP, TOO_MANY_ALIASES, TOO_MANY_TOKENS, TOO_COMPLEX, TOO_MANY_ROWS, BUSY = (
    "QUERY_TOO_LONG", "QUERY_TOO_DEEP", "TOO_MANY_ALIASES", "TOO_MANY_TOKENS", "QUERY_TOO_COMPLEX", "TOO_MANY_ROWS",
    "TOO_MANY_EXPENSIVE_REQUESTS",
)  # fmt: skip

# A document at least this long that was not seen lately is parsed, validated and shaped in a thread (validating
# 20 aliases of one connection takes ~16 ms already); a short or known one stays on the loop, where a thread would
# cost more than it saves.
OFF_LOOP_CHARS = 1024
_seen: set[tuple[str, int]] = set()  # (query, token cap) parsed, validated and shaped lately: the caches hold them


@dataclass(frozen=True, slots=True)
class Limits:
    """The ceilings every request is held to (Settings.query_max_*, Settings.expensive_*)."""

    depth: int
    aliases: int
    tokens: int
    cost: int
    rows: int
    chars: int
    expensive_cost: int
    expensive_per_token: int

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        return cls(
            settings.query_max_depth,
            settings.query_max_aliases,
            settings.query_max_tokens,
            settings.query_max_cost,
            settings.query_max_rows,
            settings.query_max_chars,
            settings.expensive_cost,
            settings.expensive_per_token,
        )

    @classmethod
    def of(cls, context: object) -> Limits:
        """The limits in the request context's settings; the default ones for a context without settings."""
        settings = getattr(context, "settings", None)
        return cls.from_settings(settings) if isinstance(settings, Settings) else DEFAULT_LIMITS


DEFAULT_LIMITS = Limits.from_settings(Settings.model_construct())  # the defaults, without reading the environment


def refusal(
    found: Shape, limits: Limits, operation: str | None, variables: Mapping[str, object] | None
) -> GraphQLError | None:
    """The error that refuses this request, or None when it is within every limit of its shape."""
    if found.depth > limits.depth:
        return _refused(f"the query is nested {found.depth} levels deep; at most {limits.depth} are allowed", TOO_DEEP)
    if found.aliases > limits.aliases:
        return _refused(
            f"the query uses {found.aliases} aliases; at most {limits.aliases} are allowed", TOO_MANY_ALIASES
        )
    chosen = found.operations.get(operation)
    if chosen is None:
        return None
    rows = chosen.evaluate_rows(variables)
    if rows > limits.rows:
        return _refused(
            f"the query selects up to {rows:,} rows, over the limit of {limits.rows:,}: `first`/`last` multiply "
            "down nested connections and add up over aliases",
            TOO_MANY_ROWS,
        )
    cost = chosen.evaluate(variables)
    if cost > limits.cost:
        return _refused(
            f"the query's estimated cost is {cost:,}, over the limit of {limits.cost:,}: ask for fewer rows "
            "(first/last multiply down nested connections) or fewer expensive fields (stats)",
            TOO_COMPLEX,
        )
    return None


def _refused(message: str, code: str, **extensions: Any) -> GraphQLError:
    return GraphQLError(message, extensions={"code": code, **extensions})


def _parse_failure_code(error: GraphQLSyntaxError) -> str:
    # graphql-core tells its token cap apart from other syntax errors only by the message.
    return TOO_MANY_TOKENS if error.message.endswith("tokens. Parsing aborted.") else "GRAPHQL_PARSE_FAILED"


def _refuse_document(context: ExecutionContext, error: GraphQLError) -> None:
    """Answer with `error` alone: the document becomes an empty one of an operation type the transport allows (a
    subscription over graphql-ws), so that nothing parses or validates the query."""
    allowed = OperationType.QUERY if OperationType.QUERY in context.allowed_operations else OperationType.SUBSCRIPTION
    context.graphql_document = _EMPTY[allowed]
    context._provided_operation_name = None  # the empty document's one operation, whatever name the request gave
    context.pre_execution_errors = [error]


# Expensive requests running now, per token id; one event loop per process, so a plain Counter is enough.
_running: Counter[int] = Counter()


@lru_cache(maxsize=CACHE_SIZE)
def _validation_errors(schema: GraphQLSchema, query: str, tokens: int, rules: tuple[Any, ...]) -> list[GraphQLError]:
    """graphql-core's validation of a query that parses within `tokens`, cached by its text."""
    return validate_document(schema, parse_cached(query, max_tokens=tokens), rules)


class QueryLimits(SchemaExtension):
    """Strawberry's parse and validation caches, with the limits: length and tokens when parsing, the rest once
    valid, and a slot among its token's expensive requests for the whole operation.

    It takes the place of ParserCache and ValidationCache: documents are parsed within the token cap, validated,
    then measured against the depth, alias, row and cost limits, each step cached by query text.
    """

    def __init__(self, weights: FieldWeights = frozenset()) -> None:
        super().__init__()
        self.weights = weights
        self.limits = DEFAULT_LIMITS
        self.holder: int | None = None  # the token id holding an expensive slot for this operation

    # One hook for the whole operation: Strawberry enters an async context manager per hook and phase, which cost
    # more than the work of a known query. The document is parsed, validated and measured here, before Strawberry's
    # own parsing and validation, which then find it done.
    async def on_operation(self) -> AsyncIterator[None]:
        context = self.execution_context
        self.limits = Limits.of(context.context)  # one extension per request: read the settings once
        await self._check(context)
        try:
            yield
        finally:
            if self.holder is not None:
                _running[self.holder] -= 1
                if _running[self.holder] <= 0:
                    del _running[self.holder]

    async def _check(self, context: ExecutionContext) -> None:
        """Set the request's document and its errors: a refusal, graphql-core's validation errors, or none."""
        tokens, query = self.limits.tokens, context.query
        context.parse_options["max_tokens"] = tokens
        if not query:
            return  # Strawberry answers that the query is missing
        if len(query) > self.limits.chars:
            # Refused before the lexer reads it: one long comment or string is a single token.
            _refuse_document(context, _refused(
                f"the query is {len(query):,} characters long, over the limit of {self.limits.chars:,}: send long "
                "values as variables", TOO_LONG,
            ))  # fmt: skip
            return
        schema, rules = context.schema._schema, tuple(context.validation_rules)
        try:
            if len(query) >= OFF_LOOP_CHARS and (query, tokens) not in _seen:
                document, errors, found = await asyncio.to_thread(self._measure, schema, query, rules)
                if len(_seen) >= CACHE_SIZE:
                    _seen.clear()  # crude, but the caches behind it are bounded the same way
                _seen.add((query, tokens))
            else:
                document, errors, found = self._measure(schema, query, rules)
        except GraphQLSyntaxError as error:
            error.extensions = {"code": _parse_failure_code(error)}
            _refuse_document(context, error)
            return
        context.graphql_document = document
        if found is not None:
            refused = refusal(found, self.limits, context.operation_name, context.variables)
            refused = refused or self._admit(found, context.operation_name, context.variables, context.context)
            errors = [refused] if refused is not None else errors
        context.pre_execution_errors = errors

    def _measure(
        self, schema: GraphQLSchema, query: str, rules: tuple[Any, ...]
    ) -> tuple[DocumentNode, list[GraphQLError], Shape | None]:
        """The document, graphql-core's validation errors, and its shape when it is valid (each cached by query
        text); GraphQLSyntaxError when it does not parse within the token cap."""
        tokens = self.limits.tokens
        document = parse_cached(query, max_tokens=tokens)
        errors = _validation_errors(schema, query, tokens, rules)
        return document, errors, None if errors else query_shape(schema, query, tokens, self.weights)

    def _admit(
        self, found: Shape, operation: str | None, variables: Mapping[str, object] | None, request: object
    ) -> GraphQLError | None:
        """Take a slot among the token's expensive requests, or the retryable error that says none is free."""
        chosen = found.operations.get(operation)
        principal = getattr(request, "principal", None)
        token = getattr(principal, "token_id", None)
        if chosen is None or not isinstance(token, int) or self._subscription():
            return None  # subscriptions live long and cost little per event: they are not held to this limit
        cost, limits = chosen.evaluate(variables), self.limits
        if cost < limits.expensive_cost:
            return None
        if _running[token] >= limits.expensive_per_token:
            return _refused(
                f"this token already runs {limits.expensive_per_token} expensive requests (estimated cost "
                f"{limits.expensive_cost:,} or more; this one: {cost:,}); send it again when one has finished",
                BUSY,
                retryable=True,
            )
        _running[token] += 1
        self.holder = token
        return None

    def _subscription(self) -> bool:
        with contextlib.suppress(RuntimeError):
            return self.execution_context.operation_type == OperationType.SUBSCRIPTION
        return False


# What a refused document is replaced by, so that nothing parses it again.
_EMPTY = {
    OperationType.QUERY: parse_cached("{ __typename }"),
    OperationType.SUBSCRIPTION: parse_cached("subscription { __typename }"),
}
