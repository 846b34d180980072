"""The probe's edge input classes: each answered with a clear error and a code, never a 500 or a dropped socket."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import orjson
import pytest
import websockets

from tests.server.test_edge import error_of
from tests.support import GraphQLClient, Server

HUGE_IDS = ["9223372036854775808", "99999999999999999999999999", "0", "-1", "1e3", "abc"]


@pytest.mark.parametrize("export_id", HUGE_IDS)
def test_a_download_id_that_cannot_be_an_id_is_400(server: Server, tokens: dict[str, str], export_id: str) -> None:
    response = httpx.get(f"{server.url}/exports/{export_id}", headers={"Authorization": f"Bearer {tokens['READER']}"})
    assert "not a valid export id" in error_of(response, 400, "BAD_USER_INPUT")


def test_a_download_id_in_range_that_names_no_export_is_404(server: Server, tokens: dict[str, str]) -> None:
    auth = {"Authorization": f"Bearer {tokens['READER']}"}
    error_of(httpx.get(f"{server.url}/exports/9223372036854775807", headers=auth), 404, "NOT_FOUND")


def test_ids_beyond_int64_in_queries_are_bad_user_input(reader: GraphQLClient) -> None:
    body = reader.execute('{ example(id: "9223372036854775808") { id } job(id: "1" ) { id } dataset(id: "-3") { id } }')
    codes = {tuple(e["path"]): e["extensions"]["code"] for e in body["errors"]}
    assert codes == {("example",): "BAD_USER_INPUT", ("dataset",): "BAD_USER_INPUT"}, body


def test_an_operation_name_naming_no_operation_is_400_on_post_and_get(server: Server, tokens: dict[str, str]) -> None:
    reader = GraphQLClient(server.url, tokens["READER"]).http
    query = "query A { __typename }"
    post = reader.post("/graphql", json={"query": query, "operationName": "B"})
    assert error_of(post, 400, "BAD_REQUEST") == 'Unknown operation named "B".'
    get = reader.get("/graphql", params={"query": query, "operationName": "B"})
    assert error_of(get, 400, "BAD_REQUEST") == 'Unknown operation named "B".'


def test_a_subscription_over_http_is_400_naming_websocket(server: Server, tokens: dict[str, str]) -> None:
    reader = GraphQLClient(server.url, tokens["READER"]).http
    query = "subscription { jobUpdates { id } }"
    for response in (reader.get("/graphql", params={"query": query}), reader.post("/graphql", json={"query": query})):
        assert "served over WebSocket" in error_of(response, 400, "BAD_REQUEST")
    assert "mutations are not allowed" in error_of(
        reader.get("/graphql", params={"query": "mutation { __typename }"}), 400, "BAD_REQUEST"
    )


NUL_FILTERS: list[tuple[dict[str, Any], str]] = [
    ({"text": "a\x00b"}, "filter.text"),
    ({"intent": {"eq": "a\x00"}}, "filter.intent.eq"),
    ({"platform": {"in": ["ok", "\x00"]}}, "filter.platform.in"),
    ({"tags": {"containsAny": ["\x00"]}}, "filter.tags.containsAny"),
    ({"or": [{"modelId": {"neq": "\x00"}}]}, "filter.or[0].modelId.neq"),
]


@pytest.mark.parametrize(("where", "field"), NUL_FILTERS)
def test_nul_in_a_filter_string_is_refused_naming_the_field(
    reader: GraphQLClient, where: dict[str, Any], field: str
) -> None:
    for query in (
        "query($f: ExampleFilter) { examples(filter: $f) { nodes { id } } }",
        "query($f: ExampleFilter) { stats(filter: $f) { count } }",
    ):
        error = reader.error(query, {"f": where})
        assert error["extensions"]["code"] == "BAD_USER_INPUT" and error["message"].startswith(field), error
        assert "NUL" in error["message"]


def test_nul_in_other_string_arguments_is_refused_naming_the_field(
    reader: GraphQLClient, curator: GraphQLClient
) -> None:
    """The fuzz test found these two reaching PostgreSQL (a masked internal error) before they were checked."""
    error = reader.error("query($p: String!) { activeModel(purpose: $p) { model { id } } }", {"p": "a\x00"})
    assert error["extensions"]["code"] == "BAD_USER_INPUT" and error["message"].startswith("purpose:"), error
    create = "mutation($i: CreateDatasetInput!) { createDataset(input: $i) { id } }"
    for field, value in (("name", "n\x00"), ("description", "d\x00")):
        error = curator.error(create, {"i": {"name": "nul-check", "where": {}, field: value}})
        assert error["extensions"]["code"] == "BAD_USER_INPUT" and error["message"].startswith(f"input.{field}:"), error
        assert "NUL" in error["message"]
    assert curator.execute('{ datasets(name: "nul-check") { id } }')["data"]["datasets"] == []


async def _close_of(server: Server, protocol: str, payload: object) -> tuple[list[dict[str, Any]], int, str]:
    """(messages received, close code, close reason) after a connection_init with this payload."""
    url = server.url.replace("http://", "ws://") + "/graphql"
    received = []
    async with websockets.connect(url, subprotocols=[protocol]) as socket:  # type: ignore[list-item]
        await socket.send(orjson.dumps({"type": "connection_init", "payload": payload}).decode())
        with pytest.raises(websockets.ConnectionClosed) as closed:
            while True:
                received.append(orjson.loads(await asyncio.wait_for(socket.recv(), 10)))
    assert closed.value.rcvd is not None, "the server must close with a code"
    return received, closed.value.rcvd.code, closed.value.rcvd.reason


BAD_PAYLOADS: list[object] = [{"Authorization": 5}, {"Authorization": ["Bearer x"]}, {"token": 5}, {}, {"a": None}]


@pytest.mark.parametrize("payload", BAD_PAYLOADS)
async def test_a_connection_init_without_a_string_token_closes_4403(server: Server, payload: object) -> None:
    messages, code, reason = await _close_of(server, "graphql-transport-ws", payload)
    assert (messages, code, reason) == ([], 4403, "Forbidden")
    messages, code, reason = await _close_of(server, "graphql-ws", payload)
    assert (code, reason) == (4403, "Forbidden")
    assert [m["type"] for m in messages] == ["connection_error"]
    assert messages[0]["payload"]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_legacy_rejections_close_with_clear_codes(server: Server, tokens: dict[str, str]) -> None:
    _, code, _ = await _close_of(server, "graphql-ws", {"Authorization": "Bearer ty_nope"})
    assert code == 4403, "an unknown token: Forbidden, not 1011 (a server error)"
    for payload in (7, f"Bearer {tokens['READER']}", ["x"]):
        messages, code, reason = await _close_of(server, "graphql-ws", payload)
        assert (code, reason) == (4400, "Invalid connection init payload")
        assert messages[0]["payload"]["extensions"]["code"] == "BAD_REQUEST"
        _, code, _ = await _close_of(server, "graphql-transport-ws", payload)
        assert code == 4400
