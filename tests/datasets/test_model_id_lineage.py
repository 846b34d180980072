"""modelId frozen with dataset members (hashes and files of versions without it unchanged), and an example's lineage."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import orjson

from bench.data import examples as generate
from tests.support import RECORD, GraphQLClient
from tests.support.datasets import DATASET_TABLES
from tests.support.oracle import matches
from tuneyard.datasets import service
from tuneyard.datasets.exports import service as exports
from tuneyard.datasets.models import ExportFormat, NewDataset
from tuneyard.examples import service as examples_service
from tuneyard.examples.models import NewExample

LINEAGE = """query($id: ID, $name: String, $deleted: Boolean) {
  datasets(containing: $id, name: $name, includeDeleted: $deleted) { id name version } }"""
CREATE = "mutation($input: CreateDatasetInput!) { createDataset(input: $input) { id name version exampleCount } }"
MEMBERS = """query($id: ID!) { dataset(id: $id) { examples(first: 500) { nodes { id executionId modelId } } } }"""


def fixed(model_ids: bool = False) -> list[NewExample]:
    """Six examples covering every field and its nulls, recorded by the code before modelId existed too."""
    return [
        NewExample(
            execution_id=f"gold-{i}", user_request=f"Write post {i} about the launch",
            intent=["publish", None][i % 2], platform=["linkedin", "blog", None][i % 3],
            business_state={"followers": 100 * i, "plan": "pro"}, execution_plan={"steps": [{"tool": "draft"}, i]},
            execution_result={"status": "ok"} if i % 2 else None, quality_score=[0.9, None, 0.5][i % 3],
            success=[True, False, None][i % 3], tags=["prod"] if i % 2 else [], post_publication_metrics={"likes": i},
            patterns_discovered=["hooks"] if i % 3 == 0 else None,
            created_at=datetime(2025, 5, 1 + i, 8, 0, tzinfo=UTC),
            model_id=f"model-{i % 2}" if model_ids and i < 4 else None,
        )
        for i in range(6)
    ]  # fmt: skip


# What the code before modelId (before migration 0011) computed for fixed(): a version's content hash and the sha256 of
# its RAW and OPENAI_CHAT files (TRAIN, VALIDATION), measured by running that code. Members without a model id must
# keep hashing and exporting exactly so, or versions frozen before would no longer match new ones of the same content.
GOLDEN_HASH = "60bb4eb5665fb6753763a52aaf68a337914c1d89df2fe1723bc09005293c70cc"
GOLDEN_FILES = {
    ExportFormat.RAW: [
        "dfa67e331fccc514e6676d5a39b6d392b5a2e334b1343e7744fa61f500d3dc46",
        "f9af3616beaf68608c1414f1afe04b5b558bc0d693a66cd10a3095538923cd81",
    ],
    ExportFormat.OPENAI_CHAT: [
        "6b6da17e3b5e5f668ded40c107d5e9efc62f33338f80a08159b7afd965dd34ca",
        "d68d9b54bc7ac1707c99ac7fae5277afe48e98a4969304e5b5172ed082011e10",
    ],
}


async def _freeze(pool: asyncpg.Pool, model_ids: bool, tmp_path: Path) -> tuple[str, dict[ExportFormat, list[bytes]]]:
    await pool.execute(DATASET_TABLES)
    await examples_service.record(pool, fixed(model_ids))
    await pool.execute("UPDATE examples SET updated_at = '2025-06-01T00:00:00Z'")  # RAW lines carry it
    version = await service.create(pool, NewDataset("gold", None, {}, 0.4, 7))
    files: dict[ExportFormat, list[bytes]] = {}
    for fmt in GOLDEN_FILES:
        result = (await exports.export_dataset(pool, tmp_path, version.id, fmt)).to_json()
        found = [await exports.export_file(pool, tmp_path, e["id"]) for e in result["exports"]]
        files[fmt] = [f[1].read_bytes() for f in found if f is not None]
    return version.content_hash, files


async def test_members_without_a_model_id_hash_and_export_as_before(pool: asyncpg.Pool, tmp_path: Path) -> None:
    content_hash, files = await _freeze(pool, False, tmp_path)
    assert content_hash == GOLDEN_HASH
    for fmt, digests in GOLDEN_FILES.items():
        assert [hashlib.sha256(f).hexdigest() for f in files[fmt]] == digests, fmt
    assert not any(b"modelId" in f for f in files[ExportFormat.RAW]), "RAW leaves out a model id that is not set"

    with_models, model_files = await _freeze(pool, True, tmp_path)
    assert with_models != GOLDEN_HASH, "the model id is frozen content"
    assert model_files[ExportFormat.OPENAI_CHAT] == files[ExportFormat.OPENAI_CHAT], "never in the training text"
    lines = [orjson.loads(line) for f in model_files[ExportFormat.RAW] for line in f.splitlines()]
    assert {r["executionId"]: r.get("modelId") for r in lines} == {
        e.execution_id: e.model_id for e in fixed(model_ids=True)
    }
    assert all(list(r)[-1] == "modelId" for r in lines if "modelId" in r), "after every other key"
    raw_without = [orjson.loads(line) for f in files[ExportFormat.RAW] for line in f.splitlines()]
    strip = [{k: v for k, v in r.items() if k != "modelId"} for r in lines]
    assert sorted(strip, key=str) == sorted(raw_without, key=str), "otherwise the same record"


async def test_the_model_id_is_frozen_and_diffed(curator: GraphQLClient, db: asyncpg.Connection) -> None:
    await db.execute(DATASET_TABLES)
    rows = list(generate(60, seed=8, prefix="frz"))
    for i, row in enumerate(rows):
        row["modelId"] = f"model-{i % 3}"
    curator.data(RECORD, {"examples": rows})
    v1 = curator.data(CREATE, {"input": {"name": "frz", "where": {}}})["createDataset"]
    # The orchestrator re-records a third of them as decided by another model; the version keeps what it froze.
    again = [{**r, "modelId": "model-new"} for r in rows[::3]]
    assert curator.data(RECORD, {"examples": again})["recordExamples"]["updated"] == len(again)
    v2 = curator.data(CREATE, {"input": {"name": "frz", "where": {}}})["createDataset"]
    frozen_v1 = {n["executionId"]: n["modelId"] for n in _members(curator, v1["id"])}
    frozen_v2 = {n["executionId"]: n["modelId"] for n in _members(curator, v2["id"])}
    assert frozen_v1 == {r["executionId"]: r["modelId"] for r in rows}
    assert frozen_v2 == {**frozen_v1, **{r["executionId"]: "model-new" for r in again}}
    diff = curator.data(
        "query($b: ID!, $h: ID!) { datasetDiff(base: $b, head: $h) { unchangedCount changedCount "
        "changed(first: 100) { nodes { executionId modelId } } } }",
        {"b": v1["id"], "h": v2["id"]},
    )["datasetDiff"]
    assert diff["unchangedCount"] == 60 and diff["changedCount"] == len(again)
    assert {n["executionId"]: n["modelId"] for n in diff["changed"]["nodes"]} == {
        r["executionId"]: "model-new" for r in again
    }


def _members(client: GraphQLClient, dataset_id: str) -> list[dict[str, Any]]:
    nodes: list[dict[str, Any]] = client.data(MEMBERS, {"id": dataset_id})["dataset"]["examples"]["nodes"]
    return nodes


async def test_an_examples_dataset_versions(
    curator: GraphQLClient, reader: GraphQLClient, db: asyncpg.Connection
) -> None:
    await db.execute(DATASET_TABLES)
    curator.data(RECORD, {"examples": list(generate(300, seed=9, prefix="lin"))})
    rows = [dict(r) for r in await db.fetch("SELECT * FROM example_rows ORDER BY id")]
    filters = {
        ("planner", 1): {"qualityScore": {"gte": 0.7}},
        ("planner", 2): {"qualityScore": {"gte": 0.8}},
        ("planner", 3): {},
        ("blog", 1): {"platform": {"eq": "blog"}},
    }
    ids = {}
    for (name, version), where in filters.items():
        created = curator.data(CREATE, {"input": {"name": name, "where": where}})["createDataset"]
        assert created["version"] == version
        ids[name, version] = created["id"]
    curator.data("mutation($id: ID!) { deleteDataset(id: $id) { id } }", {"id": ids["planner", 3]})
    # Later changes to the examples never change which versions froze them.
    curator.data("mutation { archiveExamples(where: {}) { affectedCount } }")

    def lineage(example_id: object, **args: Any) -> list[tuple[str, int]]:
        found = reader.data(LINEAGE, {"id": str(example_id), **args})["datasets"]
        return [(d["name"], d["version"]) for d in found]

    for row in rows[::7]:
        expected = [key for key, where in sorted(filters.items(), key=lambda kv: (kv[0][0], -kv[0][1]))
                    if matches(row, where)]  # fmt: skip
        assert lineage(row["id"], deleted=True) == expected, row["id"]
        assert lineage(row["id"]) == [k for k in expected if k != ("planner", 3)], "deleted versions only when asked"
        assert lineage(row["id"], name="blog", deleted=True) == [k for k in expected if k[0] == "blog"]
    assert lineage(999_999, deleted=True) == []
    bad = reader.error(LINEAGE, {"id": "abc"})
    assert bad["extensions"]["code"] == "BAD_USER_INPUT" and "containing" in bad["message"]
    everything = reader.data("{ datasets(includeDeleted: true) { id } }")["datasets"]
    assert len(everything) == len(filters), "without containing, every version as before"
