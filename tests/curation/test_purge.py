"""purgeExamples: archived examples outside every dataset version, deleted with their tags and tag-log rows, only
with a confirm equal to the count; each count checked against what the test recorded, archived and froze."""

from __future__ import annotations

import asyncio
import hashlib
import time
from typing import Any

import asyncpg
import pytest

from bench.data import examples as generate
from tests.examples.racing import until_a_writer_waits
from tests.support import RECORD, GraphQLClient, Server
from tests.support.datasets import DATASET_TABLES
from tests.support.oracle import matches
from tuneyard.core.errors import ConflictError, ValidationError
from tuneyard.curation import models
from tuneyard.curation import service as curation

PURGE = """mutation($where: ExampleFilter!, $confirm: String!) {
  purgeExamples(where: $where, confirm: $confirm) { deletedCount keptInDatasets } }"""
TAG = "mutation($where: ExampleFilter!, $add: [String!]) { tagExamples(where: $where, add: $add) { id affectedCount } }"
UNDO = "mutation($id: ID!) { undoTagOperation(id: $id) { id undoneAt } }"
OPERATIONS = "{ tagOperations(first: 500) { id affectedCount purgedCount undoneAt } }"
ARCHIVE = "mutation($where: ExampleFilter!) { archiveExamples(where: $where) { affectedCount } }"
RESTORE = "mutation($where: ExampleFilter!) { restoreExamples(where: $where) { affectedCount } }"
CREATE = """mutation($input: CreateDatasetInput!) {
  createDataset(input: $input) { id exampleCount contentHash } }"""
VERSION = """query($id: ID!) { dataset(id: $id) {
  exampleCount contentHash deletedAt examples(first: 500) { nodes { id executionId } }
  exports { id split sha256 sizeBytes downloadUrl } } }"""
LINEAGE = "query($id: ID) { datasets(containing: $id, includeDeleted: true) { id } }"
EXPORT = "mutation($id: ID!) { exportDataset(id: $id, format: RAW) { id } }"
JOB = "query($id: ID!) { job(id: $id) { status error result } }"
# Every table a purge reads or writes, emptied before each test (a dry run remembered by another test could turn a
# wrong confirm into a CONFLICT).
TABLES = f"{DATASET_TABLES}; TRUNCATE tag_operations, tag_operation_batches, purge_dry_runs RESTART IDENTITY"
# The tag log, one row per operation and example it changed.
LOGGED = "(SELECT operation_id, unnest(example_ids) AS example_id FROM tag_operation_batches) AS logged"


@pytest.fixture(scope="module")
def admin(server: Server, tokens: dict[str, str]) -> GraphQLClient:
    return GraphQLClient(server.url, tokens["ADMIN"])


async def load(client: GraphQLClient, db: asyncpg.Connection, count: int = 300) -> list[dict[str, Any]]:
    await db.execute(TABLES)
    client.data(RECORD, {"examples": list(generate(count, seed=17, prefix="purge"))})
    return await snapshot(db)


async def snapshot(db: asyncpg.Connection) -> list[dict[str, Any]]:
    return [dict(r) for r in await db.fetch("SELECT * FROM example_rows ORDER BY id")]


def ids_of(rows: list[dict[str, Any]], spec: dict[str, Any]) -> set[int]:
    return {r["id"] for r in rows if matches(r, spec)}


def purge(client: GraphQLClient, where: dict[str, Any], confirm: str) -> dict[str, int]:
    result: dict[str, int] = client.data(PURGE, {"where": where, "confirm": confirm})["purgeExamples"]
    return result


def refused(client: GraphQLClient, where: dict[str, Any], confirm: str) -> tuple[str, str]:
    error = client.error(PURGE, {"where": where, "confirm": confirm})
    return error["extensions"]["code"], error["message"]


def version(client: GraphQLClient, dataset_id: str) -> dict[str, Any]:
    found: dict[str, Any] = client.data(VERSION, {"id": dataset_id})["dataset"]
    return found


def export_raw(client: GraphQLClient, dataset_id: str) -> list[str]:
    """Export a version as RAW; the sha256 of each file."""
    job_id = client.data(EXPORT, {"id": dataset_id})["exportDataset"]["id"]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        job = client.data(JOB, {"id": job_id})["job"]
        if job["status"] in ("SUCCEEDED", "FAILED", "CANCELLED"):
            assert job["status"] == "SUCCEEDED", job["error"]
            return [e["sha256"] for e in job["result"]["exports"]]
        time.sleep(0.1)
    raise AssertionError(f"export job {job_id} did not finish")


async def test_dry_run_then_confirm_deletes_exactly_the_archived_matches_outside_versions(
    admin: GraphQLClient, reader: GraphQLClient, db: asyncpg.Connection
) -> None:
    rows = await load(admin, db)
    blog = {"platform": {"eq": "blog"}}
    operation = admin.data(TAG, {"where": blog, "add": ["junk"]})["tagExamples"]
    rows = await snapshot(db)
    tagged = ids_of(rows, blog)
    assert operation["affectedCount"] == len(tagged)

    # Two versions froze examples before any was archived; the second is deleted, and still keeps its members.
    kept_spec, deleted_spec = {"qualityScore": {"gte": 0.55}}, {"intent": {"eq": "analyze"}}
    v1 = admin.data(CREATE, {"input": {"name": "purge", "where": kept_spec, "validationFraction": 0.2}})
    v1 = v1["createDataset"]
    v2 = admin.data(CREATE, {"input": {"name": "purge-old", "where": deleted_spec}})["createDataset"]
    admin.data("mutation($id: ID!) { deleteDataset(id: $id) { id } }", {"id": v2["id"]})
    frozen = ids_of(rows, kept_spec) | ids_of(rows, deleted_spec)
    assert (v1["exampleCount"], v2["exampleCount"]) == (len(ids_of(rows, kept_spec)), len(ids_of(rows, deleted_spec)))
    files = export_raw(admin, v1["id"])
    before = version(admin, v1["id"])
    assert {int(m["id"]) for m in before["examples"]["nodes"]} == ids_of(rows, kept_spec)

    low = {"qualityScore": {"lt": 0.65}}
    archived = ids_of(rows, low)
    assert admin.data(ARCHIVE, {"where": low})["archiveExamples"]["affectedCount"] == len(archived)
    where = {"or": [{"platform": {"eq": "blog"}}, {"qualityScore": {"lt": 0.6}}]}  # `archived` defaults to true
    matched = archived & ids_of(rows, where)
    expected, kept = matched - frozen, matched & frozen
    assert expected and kept and kept - ids_of(rows, kept_spec), "some kept only by the deleted version"
    counts = {"deletedCount": len(expected), "keptInDatasets": len(kept)}

    # The dry run reports and deletes nothing; so does every confirm but the number.
    assert purge(admin, where, "") == counts
    for wrong in (str(len(expected) - 1), str(len(expected) + 1), "0", "3000000000", "9" * 40):
        code, message = refused(admin, where, wrong)
        assert code == "BAD_USER_INPUT" and f"{wrong} does not match the {len(expected)} examples" in message
    for malformed in ("yes", f" {len(expected)}", f"0{len(expected)}", f"{len(expected)}.0", "-1", "\uff11\uff12"):
        code, message = refused(admin, where, malformed)
        assert code == "BAD_USER_INPUT" and "decimal string" in message, malformed
    assert [r["id"] for r in await snapshot(db)] == [r["id"] for r in rows]

    assert purge(admin, where, str(len(expected))) == counts
    after = await snapshot(db)
    assert {r["id"] for r in after} == {r["id"] for r in rows} - expected
    unchanged = {r["id"]: r for r in rows}
    assert all(r["tags"] == unchanged[r["id"]]["tags"] for r in after), "the others keep their tags"
    gone = list(expected)
    assert await db.fetchval("SELECT count(*) FROM example_tags WHERE example_id = ANY($1)", gone) == 0
    assert await db.fetchval(f"SELECT count(*) FROM {LOGGED} WHERE example_id = ANY($1)", gone) == 0
    logged = await db.fetchval(f"SELECT count(*) FROM {LOGGED} WHERE operation_id = $1", int(operation["id"]))
    assert logged == len(tagged - expected)
    ops = {op["id"]: op for op in admin.data(OPERATIONS)["tagOperations"]}
    assert ops[operation["id"]]["purgedCount"] == len(tagged & expected) > 0

    # The versions are copies: members, hash and files as before, and a new export is byte-identical.
    assert version(admin, v1["id"]) == before
    assert export_raw(admin, v1["id"]) == files
    for f in before["exports"]:
        got = reader.http.get(f["downloadUrl"])
        assert hashlib.sha256(got.content).hexdigest() == f["sha256"]
    for example_id in sorted(kept)[:5]:
        assert admin.data(LINEAGE, {"id": str(example_id)})["datasets"], "a kept example keeps its lineage"

    # A confirm is used once: the same request again deletes nothing (0 match now), and "0" is a valid purge of none.
    code, message = refused(admin, where, str(len(expected)))
    assert code == "BAD_USER_INPUT" and "the 0 examples" in message
    assert purge(admin, where, "0") == {"deletedCount": 0, "keptInDatasets": len(kept)}


async def test_examples_that_are_not_archived_are_never_deleted(admin: GraphQLClient, db: asyncpg.Connection) -> None:
    rows = await load(admin, db, 120)
    archived = ids_of(rows, {"platform": {"eq": "linkedin"}})
    admin.data(ARCHIVE, {"where": {"platform": {"eq": "linkedin"}}})
    everyone = [str(r["id"]) for r in rows]
    for where in (
        {"archived": False},
        {"not": {"archived": True}},
        {"ids": everyone, "archived": False},
        {"or": [{"archived": False}, {"platform": {"neq": "linkedin"}}]},
    ):
        assert purge(admin, where, "") == {"deletedCount": 0, "keptInDatasets": 0}, where
    for where in ({"ids": everyone}, {"or": [{"archived": False}, {"archived": True}]}):
        assert purge(admin, where, "")["deletedCount"] == len(archived), where
    assert purge(admin, {"ids": everyone}, str(len(archived)))["deletedCount"] == len(archived)
    assert {r["id"] for r in await snapshot(db)} == {r["id"] for r in rows} - archived


async def test_count_changed_since_the_dry_run_is_a_conflict(admin: GraphQLClient, db: asyncpg.Connection) -> None:
    rows = await load(admin, db, 100)
    admin.data(ARCHIVE, {"where": {"platform": {"eq": "twitter"}}})
    where = {"qualityScore": {"lt": 0.7}}
    expected = ids_of(rows, {**where, "platform": {"eq": "twitter"}})
    dry = purge(admin, where, "")
    assert dry["deletedCount"] == len(expected) > 1

    one = sorted(expected)[0]
    admin.data(RESTORE, {"where": {"ids": [str(one)]}})
    code, message = refused(admin, where, str(len(expected)))
    assert code == "CONFLICT", message
    assert f"reported {len(expected)}, {len(expected) - 1} match now" in message
    assert f'confirm: "{len(expected) - 1}"' in message
    assert len(await snapshot(db)) == len(rows), "nothing deleted"
    # A later dry run (by another admin, say) reports the new number; the old one still reads as a change.
    assert purge(admin, where, "")["deletedCount"] == len(expected) - 1
    assert refused(admin, where, str(len(expected)))[0] == "CONFLICT"
    # A number that no dry run reported is a mistake, not a change.
    assert refused(admin, where, str(len(expected) + 5))[0] == "BAD_USER_INPUT"
    # The number the refusal named deletes exactly those.
    assert purge(admin, where, str(len(expected) - 1))["deletedCount"] == len(expected) - 1
    assert {r["id"] for r in await snapshot(db)} == {r["id"] for r in rows} - (expected - {one})


async def test_a_change_while_purging_rolls_it_back(pool: asyncpg.Pool) -> None:
    """An example restored by a transaction that commits while the purge waits for its lock: the purge had counted
    it, finds one fewer once locked, and deletes nothing."""
    await pool.execute(TABLES)
    await pool.execute(
        "INSERT INTO examples (execution_id, user_request, archived) SELECT 'race-' || g, 'request', true "
        "FROM generate_series(1, 20) g"
    )
    async with pool.acquire() as other:
        transaction = other.transaction()
        await transaction.start()
        await other.execute("UPDATE examples SET archived = false WHERE execution_id = 'race-7'")
        purging = asyncio.ensure_future(curation.purge(pool, {}, "20"))
        await until_a_writer_waits(pool)  # the purge, for the restoring transaction's row lock
        assert not purging.done()
        await transaction.commit()
        with pytest.raises(ConflictError, match=r'changed while purging: 20 confirmed, 19 match now.*confirm: "19"'):
            await purging
    assert await pool.fetchval("SELECT count(*) FROM examples") == 20
    assert (await curation.purge(pool, {}, "19")).deletable == 19


async def test_only_admins_may_purge(
    admin: GraphQLClient, curator: GraphQLClient, reader: GraphQLClient, server: Server, db: asyncpg.Connection
) -> None:
    rows = await load(admin, db, 20)
    admin.data(ARCHIVE, {"where": {}})
    for client in (reader, curator):
        for confirm in ("", str(len(rows))):
            error = client.error(PURGE, {"where": {}, "confirm": confirm})
            assert error["extensions"]["code"] == "FORBIDDEN" and "ADMIN" in error["message"]
    anonymous = GraphQLClient(server.url, None).post(PURGE, {"where": {}, "confirm": ""})
    assert anonymous.status_code == 401 and anonymous.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert len(await snapshot(db)) == len(rows)
    assert purge(admin, {}, str(len(rows)))["deletedCount"] == len(rows)


async def test_undo_of_an_operation_with_purged_examples_is_refused(
    admin: GraphQLClient, db: asyncpg.Connection
) -> None:
    rows = await load(admin, db, 150)
    blog, twitter = {"platform": {"eq": "blog"}}, {"platform": {"eq": "twitter"}}
    mixed = admin.data(TAG, {"where": {"qualityScore": {"gte": 0.5}}, "add": ["reviewed-2"]})["tagExamples"]
    untouched = admin.data(TAG, {"where": twitter, "add": ["social"]})["tagExamples"]
    undone = admin.data(TAG, {"where": blog, "add": ["early"]})["tagExamples"]
    admin.data(UNDO, {"id": undone["id"]})
    changed = ids_of(rows, {"qualityScore": {"gte": 0.5}})
    admin.data(ARCHIVE, {"where": blog})
    purged = ids_of(rows, blog)
    assert purge(admin, blog, str(len(purged)))["deletedCount"] == len(purged)
    lost = len(changed & purged)
    assert 0 < lost < len(changed)

    before = await snapshot(db)
    error = admin.error(UNDO, {"id": mixed["id"]})
    assert error["extensions"]["code"] == "CONFLICT"
    assert f"{lost} of its {len(changed)} examples were purged" in error["message"]
    assert await snapshot(db) == before, "nothing undone, not even on the examples that remain"
    ops = {op["id"]: op for op in admin.data(OPERATIONS)["tagOperations"]}
    assert ops[mixed["id"]]["purgedCount"] == lost and ops[mixed["id"]]["undoneAt"] is None
    assert ops[untouched["id"]]["purgedCount"] == 0
    # Undoing twice still says so; an operation none of whose examples were purged undoes as before.
    assert "already undone" in admin.error(UNDO, {"id": undone["id"]})["message"]
    assert admin.data(UNDO, {"id": untouched["id"]})["undoTagOperation"]["undoneAt"] is not None
    assert not any("social" in r["tags"] for r in await snapshot(db))


async def test_at_most_100000_examples_per_purge(admin: GraphQLClient, db: asyncpg.Connection) -> None:
    assert models.MAX_PURGE == 100_000
    await db.execute(TABLES)
    await db.execute(
        "INSERT INTO examples (execution_id, user_request, archived) SELECT 'bulk-' || g, 'request', true "
        "FROM generate_series(1, 100001) g"
    )
    for confirm in ("", "100001"):
        code, message = refused(admin, {}, confirm)
        assert (
            code == "BAD_USER_INPUT" and "would delete 100,001 examples" in message and "Narrow the filter" in message
        )
    assert await db.fetchval("SELECT count(*) FROM examples") == 100_001
    narrowed = {"executionId": {"neq": "bulk-1"}}
    assert purge(admin, narrowed, "")["deletedCount"] == 100_000
    assert purge(admin, narrowed, "100000")["deletedCount"] == 100_000
    assert await db.fetchval("SELECT array_agg(execution_id) FROM examples") == ["bulk-1"]


async def test_limit_is_checked_before_the_confirm(pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch) -> None:
    await pool.execute(TABLES)
    await pool.execute(
        "INSERT INTO examples (execution_id, user_request, archived) SELECT 'small-' || g, 'request', true "
        "FROM generate_series(1, 6) g"
    )
    monkeypatch.setattr(curation, "MAX_PURGE", 5)
    for confirm in ("", "6", "2"):
        with pytest.raises(ValidationError, match="would delete 6 examples, more than the 5"):
            await curation.purge(pool, {}, confirm)
    assert (await curation.purge(pool, {"executionId": {"neq": "small-1"}}, "5")).deletable == 5
