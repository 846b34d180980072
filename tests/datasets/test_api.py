"""Datasets over HTTP: create, list, pages of members, diff, rollback, delete, export jobs and downloads."""

from __future__ import annotations

import hashlib
from typing import Any

import asyncpg
import httpx
import orjson
import pytest

from bench.data import examples as generate
from tests.support import RECORD, GraphQLClient, Server
from tests.support.datasets import DATASET_TABLES

DATASET_FIELDS = """id name version description filter exampleCount trainCount validationCount avgQualityScore
contentHash isCurrent createdAt deletedAt"""
CREATE = f"mutation($input: CreateDatasetInput!) {{ createDataset(input: $input) {{ {DATASET_FIELDS} }} }}"
EXPORT = "mutation($id: ID!, $format: ExportFormat!) { exportDataset(id: $id, format: $format) { id kind status } }"
JOB = "query($id: ID!) { job(id: $id) { status error result progress } }"


@pytest.fixture
async def loaded(curator: GraphQLClient, db: asyncpg.Connection) -> list[dict[str, Any]]:
    await db.execute(DATASET_TABLES)
    rows = list(generate(400, seed=21, prefix="api-ds"))
    for i in range(0, len(rows), 200):
        curator.data(RECORD, {"examples": rows[i : i + 200]})
    return [dict(r) for r in await db.fetch("SELECT * FROM example_rows ORDER BY id")]


def create(client: GraphQLClient, **input: Any) -> dict[str, Any]:
    result: dict[str, Any] = client.data(CREATE, {"input": input})["createDataset"]
    return result


def download(url: str, token: str | None = None) -> httpx.Response:
    return httpx.get(url, headers={"Authorization": f"Bearer {token}"} if token else {})


def finished_job(client: GraphQLClient, job_id: str, timeout: float = 30) -> dict[str, Any]:
    return client.finished_job(JOB, job_id, timeout)


async def test_create_list_page_and_diff(curator: GraphQLClient, reader: GraphQLClient, loaded: list[Any]) -> None:
    where = {"qualityScore": {"gte": 0.7}}
    v1 = create(curator, name="api", description="good ones", where=where, validationFraction=0.3, seed=5)
    assert v1["version"] == 1 and v1["isCurrent"] and v1["filter"] == where
    assert v1["trainCount"] + v1["validationCount"] == v1["exampleCount"] > 0
    v2 = create(curator, name="api", where={})
    assert v2["version"] == 2 and v2["exampleCount"] == len(loaded)

    listed = reader.data('{ datasets(name: "api") { version isCurrent } }')["datasets"]
    assert listed == [{"version": 2, "isCurrent": True}, {"version": 1, "isCurrent": False}]

    page_query = """query($id: ID!, $split: Split, $after: String) { dataset(id: $id) {
      examples(split: $split, first: 100, after: $after) { totalCount nodes { id qualityScore tags archived }
        pageInfo { hasNextPage endCursor } } } }"""
    seen: list[str] = []
    after = None
    while True:
        conn = reader.data(page_query, {"id": v1["id"], "split": "VALIDATION", "after": after})["dataset"]["examples"]
        seen += [n["id"] for n in conn["nodes"]]
        if not conn["pageInfo"]["hasNextPage"]:
            break
        after = conn["pageInfo"]["endCursor"]
    assert len(seen) == len(set(seen)) == conn["totalCount"] == v1["validationCount"]

    diff = reader.data(
        """query($b: ID!, $h: ID!) { datasetDiff(base: $b, head: $h) {
          base { version } head { version } addedCount removedCount unchangedCount changedCount
          added(first: 500) { totalCount nodes { id qualityScore } } removed { nodes { id } } } }""",
        {"b": v1["id"], "h": v2["id"]},
    )["datasetDiff"]
    expected_added = {str(r["id"]) for r in loaded if not r["quality_score"] >= 0.7}
    assert (diff["base"]["version"], diff["head"]["version"]) == (1, 2)
    assert diff["addedCount"] == len(expected_added) == diff["added"]["totalCount"]
    assert {n["id"] for n in diff["added"]["nodes"]} == expected_added
    assert (diff["removedCount"], diff["unchangedCount"], diff["removed"]["nodes"]) == (0, v1["exampleCount"], [])

    rolled = curator.data("mutation($id: ID!) { setCurrentDataset(id: $id) { version isCurrent } }", {"id": v1["id"]})
    assert rolled["setCurrentDataset"] == {"version": 1, "isCurrent": True}
    deleted = curator.data("mutation($id: ID!) { deleteDataset(id: $id) { deletedAt } }", {"id": v2["id"]})
    assert deleted["deleteDataset"]["deletedAt"] is not None
    assert [d["version"] for d in reader.data('{ datasets(name: "api") { version } }')["datasets"]] == [1]
    assert len(reader.data('{ datasets(name: "api", includeDeleted: true) { version } }')["datasets"]) == 2
    error = curator.error(EXPORT, {"id": v2["id"], "format": "RAW"})
    assert error["extensions"]["code"] == "CONFLICT" and "deleted" in error["message"]


async def test_input_errors_and_roles(curator: GraphQLClient, reader: GraphQLClient, loaded: list[Any]) -> None:
    empty = curator.error(CREATE, {"input": {"name": "none", "where": {"intent": {"eq": "nothing"}}}})
    assert empty["extensions"]["code"] == "BAD_USER_INPUT" and "cannot be empty" in empty["message"]
    bad = curator.error(CREATE, {"input": {"name": "x", "where": {}, "validationFraction": 0.9}})
    assert bad["extensions"]["code"] == "BAD_USER_INPUT" and "validationFraction" in bad["message"]
    assert reader.error(CREATE, {"input": {"name": "x", "where": {}}})["extensions"]["code"] == "FORBIDDEN"
    assert reader.data('{ dataset(id: "12345") { id } }')["dataset"] is None
    missing = reader.error('{ datasetDiff(base: "1", head: "999") { addedCount } }')
    assert missing["extensions"]["code"] == "NOT_FOUND"


async def test_export_job_and_download(
    curator: GraphQLClient, reader: GraphQLClient, server: Server, tokens: dict[str, str], loaded: list[Any]
) -> None:
    version = create(curator, name="exp", where={}, validationFraction=0.2, seed=3)
    job = curator.data(EXPORT, {"id": version["id"], "format": "OPENAI_CHAT"})["exportDataset"]
    assert job["kind"] == "EXPORT"
    done = finished_job(reader, job["id"])
    assert done["status"] == "SUCCEEDED", done["error"]
    result = done["result"]
    assert result["valid"] and result["lineCount"] == len(loaded) and result["tokens"]["total"] > 0
    files = reader.data('query($id: ID!) { dataset(id: $id) { exports { id format split lineCount sizeBytes sha256 '
                        'downloadUrl } } }', {"id": version["id"]})["dataset"]["exports"]  # fmt: skip
    assert [f["split"] for f in files] == ["TRAIN", "VALIDATION"]
    assert [f["lineCount"] for f in files] == [version["trainCount"], version["validationCount"]]

    url = files[0]["downloadUrl"]
    assert url == f"/exports/{files[0]['id']}"
    got = download(server.url + url, tokens["READER"])
    assert got.status_code == 200
    assert len(got.content) == files[0]["sizeBytes"] and hashlib.sha256(got.content).hexdigest() == files[0]["sha256"]
    assert all(orjson.loads(line)["messages"][-1]["role"] == "assistant" for line in got.content.splitlines())
    assert download(server.url + url).status_code == 401
    assert download(server.url + url, "nope").status_code == 401
    # An id that names no export, or a path that leaves /exports/, is 404; one that cannot be an id is 400.
    for bad, status in (
        ("/exports/999999", 404),
        ("/exports/..%2F..%2Fetc%2Fpasswd", 404),
        ("/exports/abc", 400),
        ("/exports/%2e%2e", 400),
    ):
        assert download(server.url + bad, tokens["READER"]).status_code == status, bad

    again = finished_job(
        reader, curator.data(EXPORT, {"id": version["id"], "format": "OPENAI_CHAT"})["exportDataset"]["id"]
    )
    assert [e["sha256"] for e in again["result"]["exports"]] == [f["sha256"] for f in files], "byte-identical"
