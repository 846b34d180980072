"""POST /graphql takes a lean path; GET and other bodies take Strawberry's view. Both behave the same."""

from __future__ import annotations

import asyncpg
import httpx

from tests.support import GraphQLClient, Server

QUERY = '{ examples(first: 2) { totalCount nodes { executionId } } stats { count } example(id: "1") { id } }'


async def test_post_and_get_give_the_same_answer(
    server: Server, tokens: dict[str, str], curator: GraphQLClient, db: asyncpg.Connection
) -> None:
    curator.data('mutation { recordExamples(examples: [{executionId: "h1", userRequest: "hi"}]) { inserted } }')
    reader = GraphQLClient(server.url, tokens["READER"]).http
    post = reader.post("/graphql", json={"query": QUERY})
    get = reader.get("/graphql", params={"query": QUERY})
    assert post.status_code == get.status_code == 200
    assert post.json() == get.json()
    assert post.json()["data"]["examples"] == {"totalCount": 1, "nodes": [{"executionId": "h1"}]}
    anonymous = GraphQLClient(server.url, None).http
    assert anonymous.get("/graphql", params={"query": QUERY}).status_code == 401


def test_post_errors_are_clear(server: Server, tokens: dict[str, str]) -> None:
    headers = {"Authorization": f"Bearer {tokens['READER']}", "Content-Type": "application/json"}
    bad_json = httpx.post(f"{server.url}/graphql", content=b"{not json", headers=headers)
    assert bad_json.status_code == 400 and "not valid JSON" in bad_json.json()["errors"][0]["message"]
    no_query = httpx.post(f"{server.url}/graphql", json={"variables": {}}, headers=headers)
    assert no_query.status_code == 400 and "no GraphQL query" in no_query.json()["errors"][0]["message"]
    subscription = httpx.post(
        f"{server.url}/graphql", json={"query": "subscription { jobUpdates { id } }"}, headers=headers
    )
    assert subscription.status_code == 400, subscription.text
    syntax = httpx.post(f"{server.url}/graphql", json={"query": "{ examples { "}, headers=headers)
    assert syntax.status_code == 200
    assert "Syntax Error" in syntax.json()["errors"][0]["message"]
    unknown = httpx.post(f"{server.url}/graphql", json={"query": "{ nope }"}, headers=headers)
    assert "Cannot query field 'nope'" in unknown.json()["errors"][0]["message"]
