"""Query limits on a small schema: depth, aliases, tokens and cost, and the caches they must not defeat."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
import strawberry
from graphql import parse

from tuneyard.core.config import Settings
from tuneyard.core.graphql.cost import query_shape, shape
from tuneyard.core.graphql.limits import DEFAULT_LIMITS, Limits, QueryLimits
from tuneyard.core.principal import Principal, Role


@strawberry.type
class Item:
    name: str

    @strawberry.field
    def children(self, first: int | None = 10) -> list[Item]:
        return [Item(name=f"{self.name}.{i}") for i in range(first or 0)]


@strawberry.type
class Query:
    @strawberry.field
    def items(self, first: int | None = None, last: int | None = None) -> list[Item]:
        return [Item(name=str(i)) for i in range(first or last or 2)]

    @strawberry.field
    def stats(self) -> Item:
        return Item(name="stats")


WEIGHTS = frozenset({("Query.stats", 100)})
schema = strawberry.Schema(Query, extensions=[lambda: QueryLimits(weights=WEIGHTS)])


def cost(query: str, variables: dict[str, Any] | None = None) -> int:
    return shape(schema._schema, parse(query), WEIGHTS).operations[None].evaluate(variables)


def test_cost_multiplies_first_down_nested_connections() -> None:
    # items 1 + 3 x (name 1 + children 1 + 4 x name 1)
    assert cost("{ items(first: 3) { name children(first: 4) { name } } }") == 19
    assert cost("{ items(last: 7) { name } }") == 8
    # Without the argument: the schema's default (children: 10), else 50 (items has none).
    assert cost("{ items { children { name } } }") == 1 + 50 * (1 + 10)
    assert cost("{ stats { name } }") == 101, "stats weighs 100"
    assert cost("{ a: stats { name } b: stats { name } }") == 202


def test_variables_set_the_cost_per_request() -> None:
    query = "query($n: Int, $m: Int = 2) { items(first: $n) { children(first: $m) { name } } }"
    assert cost(query, {"n": 3}) == 1 + 3 * (1 + 2)
    assert cost(query, {"n": 3, "m": 5}) == 1 + 3 * (1 + 5)
    assert cost(query, {}) == 1 + 50 * (1 + 2), "neither given: the argument's default, the variable's default"
    assert cost(query, {"n": None, "m": None}) == 1 + 50 * (1 + 10), "null: the arguments' defaults"


def test_depth_and_aliases_count_through_fragments() -> None:
    query = """query { items(first: 2) { ...F } x: items(first: 1) { ...F } }
               fragment F on Item { name children(first: 3) { ...G } }
               fragment G on Item { n: name }"""
    found = shape(schema._schema, parse(query), WEIGHTS)
    assert found.depth == 3
    assert found.aliases == 2, "an alias in a fragment counts once, however often it is spread"
    assert found.operations[None].evaluate({}) == (1 + 2 * (1 + 1 + 3)) + (1 + 1 * (1 + 1 + 3))


def test_a_fragment_bomb_is_costed_without_being_expanded() -> None:
    levels = 40
    fragments = " ".join(f"fragment F{i} on Item {{ ...F{i + 1} ...F{i + 1} }}" for i in range(levels))
    query = f"query($n: Int) {{ items(first: $n) {{ ...F0 }} }} {fragments} fragment F{levels} on Item {{ name }}"
    started = time.perf_counter()
    found = shape(schema._schema, parse(query), WEIGHTS)
    assert found.operations[None].evaluate({"n": 1}) == 1 + 2**levels
    assert time.perf_counter() - started < 0.5


@dataclass
class Ctx:
    settings: Settings


LOW = Ctx(Settings.model_construct(query_max_depth=3, query_max_aliases=2, query_max_tokens=40, query_max_cost=100))


async def code_of(query: str, variables: dict[str, Any] | None = None) -> str | None:
    result = await schema.execute(query, variable_values=variables, context_value=LOW)
    if not result.errors:
        return None
    code: str = (result.errors[0].extensions or {})["code"]
    return code


@pytest.mark.parametrize(
    ("under", "over", "code"),
    [
        (
            "{ items(first: 1) { children(first: 1) { name } } }",
            "{ items(first: 1) { children(first: 1) { children(first: 1) { name } } } }",
            "QUERY_TOO_DEEP",
        ),
        (
            "{ a: items(first: 1) { name } b: items(first: 1) { name } }",
            "{ a: items(first: 1) { name } b: items(first: 1) { name } c: __typename }",
            "TOO_MANY_ALIASES",
        ),
        # 11 tokens, then comments (which count: they cost the parser as much) up to the cap.
        ("{ items(first: 1) { name } }" + "\n#" * 29, "{ items(first: 1) { name } }" + "\n#" * 30, "TOO_MANY_TOKENS"),
        ("{ items(first: 99) { name } }", "{ items(first: 100) { name } }", "QUERY_TOO_COMPLEX"),
        ("{ items(first: 98) { name } }", "{ stats { name } }", "QUERY_TOO_COMPLEX"),
    ],
)
async def test_each_limit_refuses_with_its_code_and_accepts_just_under(under: str, over: str, code: str) -> None:
    assert await code_of(under) is None
    assert await code_of(over) == code


async def test_syntax_errors_have_a_code() -> None:
    assert await code_of("{ items(first: 1) { ") == "GRAPHQL_PARSE_FAILED"


async def test_a_repeated_query_is_validated_and_shaped_once(monkeypatch: pytest.MonkeyPatch) -> None:
    validated: list[object] = []
    from strawberry.schema import schema as strawberry_schema

    validate = strawberry_schema.validate

    def counting(*args: Any, **kwargs: Any) -> Any:
        validated.append(args[1])
        return validate(*args, **kwargs)

    monkeypatch.setattr(strawberry_schema, "validate", counting)
    query = f"query Q{uuid.uuid4().hex}($n: Int) {{ items(first: $n) {{ name }} }}"
    shaped = query_shape.cache_info().misses
    assert await code_of(query, {"n": 2}) is None
    assert await code_of(query, {"n": 3}) is None
    # The cost is evaluated per request, with that request's variables, from the cached shape.
    assert await code_of(query, {"n": 100}) == "QUERY_TOO_COMPLEX"
    assert len(validated) == 1, "graphql-core validated the document once"
    assert query_shape.cache_info().misses == shaped + 1, "its shape was worked out once"


def test_limits_come_from_the_context_settings() -> None:
    assert Limits.of(LOW) == Limits(
        3, 2, 40, 100, rows=10_000, chars=200_000, expensive_cost=5000, expensive_per_token=2
    )
    assert Limits.of(None) == DEFAULT_LIMITS == Limits(15, 100, 10_000, 50_000, 10_000, 200_000, 5000, 2)


def rows(query: str, variables: dict[str, Any] | None = None) -> int:
    return shape(schema._schema, parse(query), WEIGHTS).operations[None].evaluate_rows(variables)


def test_rows_multiply_first_down_nested_connections_and_add_up_over_aliases() -> None:
    assert rows("{ items(first: 3) { name children(first: 4) { name } } }") == 3 * (1 + 4)
    assert rows("{ a: items(first: 3) { name } b: items(last: 7) { name } }") == 10
    assert rows("{ stats { name } }") == 0, "a field without first/last selects no rows of its own"
    assert rows("query($n: Int) { items(first: $n) { children { name } } }", {"n": 2}) == 2 * (1 + 10)
    fragments = "query { items(first: 2) { ...F } } fragment F on Item { children(first: 3) { name } }"
    assert rows(fragments) == 2 * (1 + 3)


@pytest.mark.parametrize(
    ("under", "over", "code"),
    [
        ("{ items(first: 10) { name } }", "{ items(first: 11) { name } }", "TOO_MANY_ROWS"),
        ("{ items(first: 1) { name } }" + " " * 45, "{ items(first: 1) { name } }" + " " * 46, "QUERY_TOO_LONG"),
    ],
)
async def test_rows_and_length_refuse_with_their_code(under: str, over: str, code: str) -> None:
    settings = Settings.model_construct(query_max_rows=10, query_max_chars=73)
    for query, expected in ((under, None), (over, code)):
        result = await schema.execute(query, context_value=Ctx(settings))
        assert (result.errors[0].extensions or {})["code"] == expected if expected else not result.errors, result


async def test_a_long_document_is_refused_before_it_is_parsed_whatever_operation_it_names() -> None:
    query = "query Named { items(first: 1) { name } }" + "#" * 300_000
    result = await schema.execute(query, context_value=Ctx(Settings.model_construct()), operation_name="Named")
    assert result.errors and result.errors[0].extensions == {"code": "QUERY_TOO_LONG"}
    assert result.errors[0].message.startswith("the query is 300,040 characters long, over the limit of 200,000")


@dataclass
class Caller:
    settings: Settings
    principal: Principal


class Gate:
    """A resolver that waits until the test opens it, so that requests stay running."""

    opened = asyncio.Event()


@strawberry.type
class SlowQuery:
    @strawberry.field
    async def items(self, first: int | None = None) -> list[Item]:
        await Gate.opened.wait()
        return [Item(name=str(i)) for i in range(first or 0)]


slow = strawberry.Schema(SlowQuery, extensions=[lambda: QueryLimits()])


async def test_a_token_runs_only_so_many_expensive_requests_at_once() -> None:
    settings = Settings.model_construct(expensive_cost=100, expensive_per_token=2)
    first, second = (Caller(settings, Principal(n, f"t{n}", Role.READER)) for n in (1, 2))
    expensive, cheap = "{ items(first: 99) { name } }", "{ items(first: 98) { name } }"
    Gate.opened = asyncio.Event()
    running = [asyncio.create_task(slow.execute(expensive, context_value=first)) for _ in range(2)]
    await asyncio.sleep(0.05)
    refused = await slow.execute(expensive, context_value=first)
    assert refused.errors and refused.errors[0].extensions == {"code": "TOO_MANY_EXPENSIVE_REQUESTS", "retryable": True}
    assert "already runs 2 expensive requests (estimated cost 100 or more; this one: 100)" in refused.errors[0].message
    others = [asyncio.create_task(slow.execute(q, context_value=c)) for q, c in ((cheap, first), (expensive, second))]
    await asyncio.sleep(0.05)
    Gate.opened.set()
    for done in await asyncio.gather(*running, *others):
        assert not done.errors, "cheap requests and other tokens are not held back"
    again = await slow.execute(expensive, context_value=first)
    assert not again.errors, "finished requests give their slots back"
