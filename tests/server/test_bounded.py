"""Bounded work per request over HTTP: the document's length, a `text` search's length, the response's size."""

from __future__ import annotations

from collections.abc import Iterator

import asyncpg
import pytest

from tests.support import RECORD, GraphQLClient, Server

PAGE = "{ examples(first: 50) { nodes { executionId userRequest } } }"


@pytest.fixture(scope="module")
def small_responses(env: dict[str, str]) -> Iterator[Server]:
    """A server whose responses may be 3,000 bytes at most."""
    running = Server({**env, "TUNEYARD_MAX_RESPONSE_BYTES": "3000", "TUNEYARD_SERVE_WORKERS": "0"})
    running.start()
    yield running
    running.stop()


async def test_a_response_over_the_limit_is_refused_naming_it(
    small_responses: Server, tokens: dict[str, str], curator: GraphQLClient, db: asyncpg.Connection
) -> None:
    examples = [{"executionId": f"big-{n}", "userRequest": "x" * 200} for n in range(20)]
    curator.data(RECORD, {"examples": examples})
    reader = GraphQLClient(small_responses.url, tokens["READER"])
    assert len(reader.data("{ examples(first: 10) { nodes { executionId } } }")["examples"]["nodes"]) == 10
    for response in (reader.post(PAGE), reader.http.get("/graphql", params={"query": PAGE})):
        assert response.status_code == 200
        assert response.json() == {
            "data": None,
            "errors": [
                {
                    "message": "the response is over the limit of 3,000 bytes: ask for fewer rows (first/last) or "
                    "fewer fields",
                    "extensions": {"code": "RESPONSE_TOO_LARGE"},
                }
            ],
        }


def test_a_long_text_search_is_refused_naming_the_field(reader: GraphQLClient) -> None:
    query = "query($t: String!) { examples(filter: {text: $t}) { nodes { id } } }"
    assert reader.data(query, {"t": "y" * 1000})["examples"]["nodes"] == []
    error = reader.error(query, {"t": "y" * 1001})
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["message"] == "filter.text: search text is 1,001 characters, at most 1,000"


def test_a_long_document_is_refused_before_it_is_parsed(reader: GraphQLClient) -> None:
    query = "{ __typename }"
    assert reader.data(query + " " * (200_000 - len(query))) == {"__typename": "Query"}
    for padding in ("#" + "c" * 200_000, ' { a: __typename(x: "' + "s" * 200_000 + '") }'):
        error = reader.error(query + padding)
        assert error["extensions"]["code"] == "QUERY_TOO_LONG"
        assert error["message"].endswith("over the limit of 200,000: send long values as variables")
