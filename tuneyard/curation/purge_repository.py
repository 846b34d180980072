"""SQL for purging archived examples: counting, locking and deleting them with their tags and their ids in the tag log,
and remembering dry runs."""

from __future__ import annotations

from tuneyard.core.db import Condition, Connection, Executor, xact_lock
from tuneyard.curation.models import DryRun, PurgeCounts
from tuneyard.curation.repository import BLOCK
from tuneyard.examples.models import TAGS_LOCK

# Purging. A purge considers archived examples only, whatever its filter says, and keeps every example that a dataset
# version holds, deleted version or not (a deleted version keeps its rows, files and lineage).
_HELD = "EXISTS (SELECT 1 FROM dataset_examples d WHERE d.example_id = e.id)"


def _archived(where: Condition) -> str:
    return f"({where.sql}) AND e.archived"


async def count_purgeable(conn: Executor, where: Condition) -> PurgeCounts:
    """How many archived matches a purge would delete, and how many it keeps because a version holds them."""
    row = await conn.fetchrow(
        f"SELECT count(*) AS matched, count(*) FILTER (WHERE {_HELD}) AS held FROM examples e WHERE {_archived(where)}",
        *where.params,
    )
    assert row is not None
    return PurgeCounts(row["matched"] - row["held"], row["held"])


async def hold_dataset_members(conn: Connection) -> None:
    """Hold new dataset members back until this transaction ends (creations in progress are waited for), so that
    what it reads of dataset_examples from its next statement on stays true until it commits."""
    await conn.execute("LOCK TABLE dataset_examples IN SHARE MODE")


async def lock_purgeable(conn: Connection, where: Condition) -> list[int]:
    """Lock the examples a purge would delete, in executionId order (the order every writer of examples rows locks
    them in); their ids. A row changed meanwhile is checked again once locked (one restored meanwhile is left out).

    NO KEY UPDATE, like the other writers of examples rows: a tag writer holding TAGS_LOCK only needs KEY SHARE on
    an example, so it is never blocked by these locks while this transaction waits for TAGS_LOCK."""
    rows = await conn.fetch(
        f"""
        SELECT e.id FROM examples e WHERE {_archived(where)} AND NOT {_HELD}
        ORDER BY e.execution_id COLLATE "C" FOR NO KEY UPDATE OF e
        """,
        *where.params,
    )
    return [r["id"] for r in rows]


async def delete_examples(conn: Connection, where: Condition, locked: list[int]) -> int:
    """Delete the locked examples that still match, with their tags and their ids in the tag-operation log (each
    operation counts its purged examples); the number deleted. Dataset versions' frozen copies are not touched.

    TAGS_LOCK first: no tag writer is then between reading an example's tags and writing them, and none holds
    KEY SHARE on an example any more, so the delete waits for no one. The filter is evaluated again, with the tags
    as they are now."""
    await xact_lock(conn, TAGS_LOCK)
    ids = f"${len(where.params) + 1}::bigint[]"
    target: list[int] = await conn.fetchval(
        f"""
        WITH target AS MATERIALIZED (
            SELECT e.id FROM examples e WHERE e.id = ANY({ids}) AND {_archived(where)} AND NOT {_HELD}
        ), tags AS (
            DELETE FROM example_tags t WHERE t.example_id = ANY(ARRAY(SELECT id FROM target))
        ), logged AS (
            -- every id in the log blocks of the deleted examples, and whether it is one of them
            SELECT b.operation_id, b.block, b.added, b.removed, x AS example_id, x IN (SELECT id FROM target) AS purged
            FROM tag_operation_batches b CROSS JOIN LATERAL unnest(b.example_ids) AS x
            WHERE b.block IN (SELECT id / {BLOCK} FROM target)
        ), batches AS (
            SELECT operation_id, block, added, removed, count(*) FILTER (WHERE purged) AS purged,
                   array_agg(example_id ORDER BY example_id) FILTER (WHERE NOT purged) AS kept
            FROM logged GROUP BY operation_id, block, added, removed HAVING bool_or(purged)
        ), shrunk AS (
            UPDATE tag_operation_batches b SET example_ids = batches.kept FROM batches
            WHERE (b.operation_id, b.block, b.added, b.removed)
                = (batches.operation_id, batches.block, batches.added, batches.removed) AND batches.kept IS NOT NULL
        ), emptied AS (
            DELETE FROM tag_operation_batches b USING batches
            WHERE (b.operation_id, b.block, b.added, b.removed)
                = (batches.operation_id, batches.block, batches.added, batches.removed) AND batches.kept IS NULL
        ), counted AS (
            UPDATE tag_operations o SET purged_count = o.purged_count + purged.n
            FROM (SELECT operation_id, sum(purged)::int AS n FROM batches GROUP BY operation_id) purged
            WHERE o.id = purged.operation_id
        )
        SELECT coalesce(array_agg(id), '{{}}') FROM target
        """,
        *where.params,
        locked,
    )
    # A statement of its own, after the tags': the summary triggers (migration 0017) file each example's counts under
    # its tags, which they read from example_tags, so those must be gone (and re-filed as untagged) first.
    deleted: int = await conn.fetchval(
        "WITH gone AS (DELETE FROM examples e WHERE e.id = ANY($1::bigint[]) RETURNING 1) SELECT count(*) FROM gone",
        target,
    )
    return deleted


async def remember_dry_run(conn: Executor, filter_key: str, deletable: int) -> None:
    await conn.execute(
        """
        INSERT INTO purge_dry_runs (filter_key, deletable) VALUES ($1, $2)
        ON CONFLICT (filter_key, deletable) DO UPDATE SET created_at = EXCLUDED.created_at
        """,
        filter_key,
        deletable,
    )


async def dry_run_reporting(conn: Executor, filter_key: str, deletable: int) -> DryRun | None:
    """The latest dry run of this filter that reported `deletable`, since the filter was last purged."""
    row = await conn.fetchrow(
        "SELECT deletable, created_at FROM purge_dry_runs WHERE filter_key = $1 AND deletable = $2",
        filter_key,
        deletable,
    )
    return None if row is None else DryRun(row["deletable"], row["created_at"])


async def forget_dry_run(conn: Executor, filter_key: str) -> None:
    await conn.execute("DELETE FROM purge_dry_runs WHERE filter_key = $1", filter_key)
