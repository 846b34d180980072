"""Query limits over HTTP: each refused with its code and a clear message, a query just under each accepted."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest
import websockets
from graphql import get_introspection_query

from tests.support import WS_PROTOCOLS, GraphQLClient, GraphQLWebSocket, Server


def _nested(levels: int) -> str:
    """A valid introspection query `levels` fields deep."""
    return "{ __schema { types { fields { type { " + "ofType { " * (levels - 5) + "name" + " }" * (levels - 1) + " }"


def _refused(client: GraphQLClient, query: str, code: str, variables: dict[str, Any] | None = None) -> str:
    error = client.error(query, variables)
    assert error["extensions"]["code"] == code, error
    message: str = error["message"]
    return message


def test_depth(reader: GraphQLClient) -> None:
    assert reader.data(_nested(15))["__schema"]["types"]
    assert (
        _refused(reader, _nested(16), "QUERY_TOO_DEEP") == "the query is nested 16 levels deep; at most 15 are allowed"
    )


def test_graphiql_and_full_introspection_pass(reader: GraphQLClient) -> None:
    # graphql-core's introspection query (15 levels) is deeper than GraphiQL's (13).
    introspection = get_introspection_query(descriptions=True, input_value_deprecation=True)
    assert reader.data(introspection)["__schema"]["queryType"] == {"name": "Query", "kind": "OBJECT"}


def test_aliases(reader: GraphQLClient) -> None:
    def aliased(count: int) -> str:
        return "{" + " ".join(f"a{i}: __typename" for i in range(count)) + "}"

    assert len(reader.data(aliased(100))) == 100
    assert _refused(reader, aliased(101), "TOO_MANY_ALIASES") == "the query uses 101 aliases; at most 100 are allowed"
    # 4,000 aliases are over the token cap already: refused before validation.
    message = _refused(reader, aliased(4_000), "TOO_MANY_TOKENS")
    assert message == "Syntax Error: Document contains more than 10000 tokens. Parsing aborted."


def test_tokens(reader: GraphQLClient) -> None:
    # Comments count as tokens too (they cost the parser as much): pad a 3-token query up to the cap.
    def padded(tokens: int) -> str:
        return "{ __typename }" + "\n#" * (tokens - 3)

    assert reader.data(padded(10_000)) == {"__typename": "Query"}
    _refused(reader, padded(10_001), "TOO_MANY_TOKENS")
    assert reader.error("{ examples { ")["extensions"]["code"] == "GRAPHQL_PARSE_FAILED"


EVENTS = "query($n: Int) { jobs(first: 100) { nodes { events(last: $n) { seq } } } }"
# 100 fields per job (99 aliases of id, and id): the cost grows with the fields, the rows do not.
WIDE = "query($n: Int) { jobs(first: $n) { nodes { id " + " ".join(f"a{i}: id" for i in range(99)) + " } } }"


def test_rows_multiply_first_down_nested_connections(reader: GraphQLClient) -> None:
    # 100 jobs x (1 + n events): the same document, its rows set by its variables.
    assert reader.data(EVENTS, {"n": 99})["jobs"]["nodes"] is not None  # 10,000 rows
    message = _refused(reader, EVENTS, "TOO_MANY_ROWS", {"n": 100})
    assert message.startswith("the query selects up to 10,100 rows, over the limit of 10,000")
    # Aliases add up: 20 pages of 500 are 10,000 rows; one more row is one too many.
    pages = "{" + " ".join(f"p{i}: jobs(first: 500) {{ nodes {{ id }} }}" for i in range(20)) + "}"
    assert len(reader.data(pages)) == 20
    one_more = pages[:-1] + " last: jobs(first: 1) { nodes { id } } }"
    assert "10,001 rows" in _refused(reader, one_more, "TOO_MANY_ROWS")
    # Without `last`, the schema's default (50) counts; without `first` on jobs, its default does too.
    assert reader.data("{ jobs { nodes { events { seq } } } }")["jobs"]["nodes"] is not None


def test_cost_counts_fields_per_row(reader: GraphQLClient) -> None:
    # 1 (jobs) + n x (1 (nodes) + 100 fields)
    assert reader.data(WIDE, {"n": 495})["jobs"]["nodes"] is not None  # 49,996
    message = _refused(reader, WIDE, "QUERY_TOO_COMPLEX", {"n": 496})
    assert message.startswith("the query's estimated cost is 50,097, over the limit of 50,000")


async def test_stats_weigh_a_thousand_rows(reader: GraphQLClient, db: asyncpg.Connection) -> None:
    def stats(count: int) -> str:
        return "{" + " ".join(f"s{i}: stats {{ count }}" for i in range(count)) + "}"

    assert len(reader.data(stats(49))) == 49  # 49 x 1,001
    assert "50,050" in _refused(reader, stats(50), "QUERY_TOO_COMPLEX")


async def _error_code(ws: GraphQLWebSocket) -> str:
    kind, message = await ws.receive()
    assert kind == "error", message
    # graphql-transport-ws sends the list of errors, graphql-ws only the first one.
    payload = message["payload"]
    code: str = (payload[0] if isinstance(payload, list) else payload)["extensions"]["code"]
    return code


@pytest.mark.parametrize("protocol", WS_PROTOCOLS)
async def test_subscriptions_are_held_to_the_limits(server: Server, tokens: dict[str, str], protocol: str) -> None:
    aliased = "subscription { jobUpdates { id " + "".join(f"a{i}: id " for i in range(101)) + "} }"
    padded = "subscription { jobUpdates { id } }" + "\n#" * 10_000
    async with GraphQLWebSocket(server.url, tokens["READER"], protocol) as ws:
        await ws.subscribe(aliased, op_id="aliased")
        assert await _error_code(ws) == "TOO_MANY_ALIASES"
        await ws.subscribe("subscription { jobUpdates { id } }" + " " * 200_000, op_id="long")
        assert await _error_code(ws) == "QUERY_TOO_LONG"  # refused before parsing, in a document the protocol takes
        await ws.subscribe(padded, op_id="padded")
        if protocol == "graphql-ws":
            assert await _error_code(ws) == "TOO_MANY_TOKENS"
            return
        # Strawberry's graphql-transport-ws closes the socket on any syntax error, with the error as the reason.
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await ws.receive()
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4400
        assert "more than 10000 tokens" in closed.value.rcvd.reason
