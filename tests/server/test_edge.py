"""The one edge: auth on every path, GraphiQL that never runs a query, 400/401/404/405/413/500 as GraphQL JSON."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest
import websockets
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.routing import Route

from tests.support import GraphQLClient, GraphQLWebSocket, Server
from tuneyard.core.config import Settings
from tuneyard.server.app import EXCEPTION_HANDLERS
from tuneyard.server.edge import Edge
from tuneyard.server.http import GraphQLPost

SCHEMA_QUERY = "{__schema{types{name}}}"
# However `query` is spelled in the query string, a request without a token must never run it.
QUERY_STRINGS = [
    f"query={SCHEMA_QUERY}",
    f"%71uery={SCHEMA_QUERY}",
    f"q%75ery={SCHEMA_QUERY}",
    "%71%75%65%72%79=%7B__schema%7Btypes%7Bname%7D%7D%7D",
    f"x=1&%71uery={SCHEMA_QUERY}",
    f"query={SCHEMA_QUERY}&operationName=",
    "",
]


def error_of(response: httpx.Response, status: int, code: str) -> str:
    """The message of an error response, after checking its status, JSON type, GraphQL shape and code."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json"), response.headers
    body = response.json()
    assert list(body) == ["errors"] and body["errors"][0]["extensions"]["code"] == code, body
    message: str = body["errors"][0]["message"]
    return message


@pytest.mark.parametrize("query_string", QUERY_STRINGS)
def test_graphiql_never_runs_a_query_without_a_token(server: Server, query_string: str) -> None:
    url = f"{server.url}/graphql?{query_string}"
    browser = httpx.get(url, headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    assert browser.status_code == 200 and browser.headers["content-type"].startswith("text/html")
    assert "GraphiQL" in browser.text and "__Schema" not in browser.text and '"data"' not in browser.text
    error_of(httpx.get(url, headers={"Accept": "application/json"}), 401, "UNAUTHENTICATED")
    error_of(httpx.get(url), 401, "UNAUTHENTICATED")


def test_a_token_runs_get_queries_and_still_opens_graphiql(server: Server, tokens: dict[str, str]) -> None:
    auth = {"Authorization": f"Bearer {tokens['READER']}"}
    page = httpx.get(f"{server.url}/graphql", headers={**auth, "Accept": "text/html"})
    assert page.status_code == 200 and "GraphiQL" in page.text
    ran = httpx.get(f"{server.url}/graphql?%71uery={SCHEMA_QUERY}", headers=auth)
    assert ran.status_code == 200 and any(t["name"] == "Query" for t in ran.json()["data"]["__schema"]["types"])


def test_malformed_posts_are_400_with_a_clear_message(server: Server, tokens: dict[str, str]) -> None:
    headers = {"Authorization": f"Bearer {tokens['READER']}", "Content-Type": "application/json"}

    def post(body: object, **extra: str) -> httpx.Response:
        content = body if isinstance(body, bytes) else orjson.dumps(body)
        return httpx.post(f"{server.url}/graphql", content=content, headers={**headers, **extra})

    query = "{ __typename }"
    cases: list[tuple[httpx.Response, str]] = [
        (post({"query": query, "operationName": 5}), "operationName must be a string"),
        (post({"query": query, "operationName": ["a"]}), "operationName must be a string"),
        (post({"query": query, "variables": [1, 2]}), "variables must be a JSON object"),
        (post({"query": query, "variables": "{}"}), "variables must be a JSON object"),
        (post({"query": query, "extensions": 3}), "extensions must be a JSON object"),
        (post({"query": 42}), "no GraphQL query"),
        (post({"query": ""}), "the query is empty"),
        (post([{"query": query}]), "batches are not supported"),
        (post("just a string"), "no GraphQL query"),
        (post(b"\xff\xfe not json"), "not valid JSON"),
        (post({"query": query}, **{"Content-Type": "text/plain"}), "Content-Type: application/json"),
        (post({"query": query, "operationName": "Nope"}), 'Unknown operation named "Nope"'),
        (post({"query": "mutation { __typename }"}, **{"Content-Type": "application/json; charset=utf-8"}), ""),
    ]
    for response, needle in cases[:-1]:
        assert needle in error_of(response, 400, "BAD_REQUEST")
    assert cases[-1][0].status_code == 200, "a charset parameter is still JSON"


def test_malformed_gets_are_400_and_other_methods_405(server: Server, tokens: dict[str, str]) -> None:
    reader = GraphQLClient(server.url, tokens["READER"]).http
    assert "JSON" in error_of(
        reader.get("/graphql", params={"query": "{ __typename }", "variables": "{"}), 400, "BAD_REQUEST"
    )
    assert "variables" in error_of(
        reader.get("/graphql", params={"query": "{ __typename }", "variables": "[1]"}), 400, "BAD_REQUEST"
    )
    assert "Nope" in error_of(
        reader.get("/graphql", params={"query": "{ __typename }", "operationName": "Nope"}), 400, "BAD_REQUEST"
    )
    error_of(reader.get("/graphql", params={"query": "mutation { __typename }"}), 400, "BAD_REQUEST")
    assert "No GraphQL query" in error_of(
        reader.get("/graphql", headers={"Accept": "application/json"}), 400, "BAD_REQUEST"
    )
    error_of(reader.put("/graphql", json={"query": "{ __typename }"}), 405, "METHOD_NOT_ALLOWED")
    error_of(reader.get("/no/such/page"), 404, "NOT_FOUND")
    error_of(reader.get("/graphiql/secrets.js"), 404, "NOT_FOUND")


def test_downloads_answer_401_and_404_in_graphql_shape(server: Server, tokens: dict[str, str]) -> None:
    assert "missing bearer token" in error_of(httpx.get(f"{server.url}/exports/1"), 401, "UNAUTHENTICATED")
    bad = httpx.get(f"{server.url}/exports/1", headers={"Authorization": "Bearer ty_nope"})
    assert error_of(bad, 401, "UNAUTHENTICATED") == "unknown or revoked token"
    auth = {"Authorization": f"Bearer {tokens['READER']}"}
    for missing in ("/exports/999999", "/exports/..%2F..%2Fetc%2Fpasswd"):
        error_of(httpx.get(server.url + missing, headers=auth), 404, "NOT_FOUND")
    error_of(httpx.get(server.url + "/exports/abc", headers=auth), 400, "BAD_USER_INPUT")  # see test_edge_inputs.py


CAP = 400_000


@pytest.fixture(scope="module")
def configured(env: dict[str, str]) -> Iterator[Server]:
    """A server with its limits set in the environment: a 400,000-byte body cap, a 100,000-token cap, 1,000,000
    characters."""
    running = Server(
        {
            **env,
            "TUNEYARD_MAX_BODY_BYTES": str(CAP),
            "TUNEYARD_QUERY_MAX_TOKENS": "100000",
            "TUNEYARD_QUERY_MAX_CHARS": "1000000",
            "TUNEYARD_SERVE_WORKERS": "0",
        }
    )
    running.start()
    yield running
    running.stop()


def test_a_body_over_the_cap_is_413(configured: Server, tokens: dict[str, str]) -> None:
    reader = GraphQLClient(configured.url, tokens["READER"]).http
    padded = {"query": "{ __typename }", "variables": {"pad": "x" * (CAP - 100)}}
    assert reader.post("/graphql", json=padded).status_code == 200, "just under the cap"
    oversized = {"query": "{ __typename }", "variables": {"pad": "x" * CAP}}
    assert "400,000 bytes" in error_of(reader.post("/graphql", json=oversized), 413, "BODY_TOO_LARGE")

    def chunks() -> Iterator[bytes]:  # a generator body goes out chunked, without Content-Length
        body = orjson.dumps(oversized)
        for start in range(0, len(body), 65536):
            yield body[start : start + 65536]

    chunked = reader.post("/graphql", content=chunks(), headers={"Content-Type": "application/json"})
    assert chunked.request.headers["transfer-encoding"] == "chunked" and "content-length" not in chunked.request.headers
    error_of(chunked, 413, "BODY_TOO_LARGE")


def test_a_declared_length_over_the_default_cap_is_refused_before_the_body_is_sent(
    server: Server, tokens: dict[str, str]
) -> None:
    assert Settings.model_construct().max_body_bytes == 8 * 1024 * 1024
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as connection:
        connection.sendall(
            b"POST /graphql HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
            + f"Authorization: Bearer {tokens['READER']}\r\nContent-Length: {9 * 1024 * 1024}\r\n\r\n".encode()
            + b'{"query": "'
        )
        # Only 11 of the 9 MiB were sent: the server answers without waiting for the rest.
        answer = b""
        while b"BODY_TOO_LARGE" not in answer and (chunk := connection.recv(65536)):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 413"), answer
    assert b'"code":"BODY_TOO_LARGE"' in answer


def test_limits_come_from_the_settings(configured: Server, tokens: dict[str, str]) -> None:
    reader = GraphQLClient(configured.url, tokens["READER"])
    many = "{" + " ".join(f"a{i}: __typename" for i in range(20_000)) + "}"
    # Under this server's token cap, the 20,000 aliases meet the alias limit instead.
    refused = reader.error(many)
    assert refused["extensions"]["code"] == "TOO_MANY_ALIASES"
    assert refused["message"] == "the query uses 20000 aliases; at most 100 are allowed"


async def test_websocket_auth_comes_from_connection_init(server: Server, tokens: dict[str, str]) -> None:
    async with GraphQLWebSocket(server.url, tokens["READER"]) as ws:
        await ws.subscribe("subscription { jobUpdates { id } }")  # accepted: no error arrives before we stop
        await ws.stop()
    url = server.url.replace("http://", "ws://") + "/graphql"
    async with websockets.connect(url, subprotocols=["graphql-transport-ws"]) as modern:  # type: ignore[list-item]
        await modern.send(orjson.dumps({"type": "connection_init", "payload": {}}).decode())
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await modern.recv()
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403
    async with websockets.connect(url, subprotocols=["graphql-ws"]) as legacy:  # type: ignore[list-item]
        payload = {"Authorization": "Bearer ty_nope"}
        await legacy.send(orjson.dumps({"type": "connection_init", "payload": payload}).decode())
        message = orjson.loads(await legacy.recv())
        assert message["type"] == "connection_error"
        assert message["payload"] == {"message": "unknown or revoked token", "extensions": {"code": "UNAUTHENTICATED"}}


class _BrokenEdge(Edge):
    async def authenticate(self, scope: Any, connection_params: object = None) -> Any:
        raise RuntimeError("the token store is on fire")


async def test_an_unexpected_failure_is_a_masked_500_in_graphql_shape() -> None:
    lean = GraphQLPost(Starlette(), _BrokenEdge(Settings.model_construct()))
    transport = httpx.ASGITransport(app=lean)
    async with httpx.AsyncClient(transport=transport, base_url="http://edge") as client:
        message = error_of(
            await client.post("/graphql", json={"query": "{ __typename }"}), 500, "INTERNAL_SERVER_ERROR"
        )
    assert "fire" not in message

    async def boom(request: Request) -> None:
        raise RuntimeError("a bug")

    app = Starlette(routes=[Route("/boom", boom)], exception_handlers=EXCEPTION_HANDLERS)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://edge") as client:
        assert "a bug" not in error_of(await client.get("/boom"), 500, "INTERNAL_SERVER_ERROR")
