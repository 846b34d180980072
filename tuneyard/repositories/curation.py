"""SQL for curation: tagging with an undo log, archiving, and aggregates over a compiled filter."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg

from tuneyard.domain.curation import Aggregate, Summary, TagOperation

Executor = asyncpg.Pool | asyncpg.Connection

_OPERATION_COLUMNS = "id, added, removed, affected_count, note, created_at, undone_at"


def _operation(row: asyncpg.Record) -> TagOperation:
    return TagOperation(**{key: row[key] for key in TagOperation.__slots__})


async def tag(
    conn: Executor, where: str, params: Sequence[Any], add: list[str], remove: list[str], note: str | None,
    filter_json: Any,
) -> TagOperation:  # fmt: skip
    """Add and remove tags on every matching example in one statement, logging exactly what changed."""
    n = len(params)
    add_p, remove_p, note_p, filter_p = f"${n + 1}", f"${n + 2}", f"${n + 3}", f"${n + 4}"
    sql = f"""
    WITH target AS (
        -- Locking the rows makes old_tags their current value even under concurrent tagging.
        SELECT e.id, e.tags AS old_tags,
               ARRAY(SELECT DISTINCT t COLLATE "C" FROM unnest(e.tags || {add_p}::text[]) AS t
                     WHERE t <> ALL({remove_p}::text[]) ORDER BY 1) AS new_tags
        FROM examples e WHERE {where}
        FOR UPDATE OF e
    ), changed AS (
        UPDATE examples e SET tags = target.new_tags, updated_at = now()
        FROM target WHERE e.id = target.id AND target.new_tags <> target.old_tags
        RETURNING e.id, target.old_tags, target.new_tags
    ), operation AS (
        INSERT INTO tag_operations (added, removed, note, filter, affected_count)
        SELECT {add_p}::text[], {remove_p}::text[], {note_p}, {filter_p}::jsonb, count(*) FROM changed
        RETURNING {_OPERATION_COLUMNS}
    ), logged AS (
        INSERT INTO tag_operation_changes (operation_id, example_id, added, removed)
        SELECT operation.id, changed.id,
               ARRAY(SELECT unnest(changed.new_tags) EXCEPT SELECT unnest(changed.old_tags)),
               ARRAY(SELECT unnest(changed.old_tags) EXCEPT SELECT unnest(changed.new_tags))
        FROM changed CROSS JOIN operation
    )
    SELECT * FROM operation
    """
    row = await conn.fetchrow(sql, *params, add, remove, note, filter_json)
    assert row is not None
    return _operation(row)


async def undo(conn: Executor, operation_id: int) -> TagOperation | None:
    """Take off what the operation added and put back what it removed, on exactly the examples it
    changed, leaving every other tag as it is now. None if it does not exist or was already undone."""
    row = await conn.fetchrow(
        f"""
        WITH operation AS (
            UPDATE tag_operations SET undone_at = clock_timestamp()
            WHERE id = $1 AND undone_at IS NULL
            RETURNING {_OPERATION_COLUMNS}
        ), reverted AS (
            UPDATE examples e
            SET tags = ARRAY(SELECT DISTINCT t COLLATE "C" FROM unnest(e.tags || c.removed) AS t
                             WHERE t <> ALL(c.added) ORDER BY 1),
                updated_at = now()
            FROM tag_operation_changes c JOIN operation ON c.operation_id = operation.id
            WHERE e.id = c.example_id
            RETURNING e.id
        )
        SELECT operation.*, (SELECT count(*) FROM reverted) AS reverted FROM operation
        """,
        operation_id,
    )
    return None if row is None else _operation(row)


async def get_operation(conn: Executor, operation_id: int) -> TagOperation | None:
    row = await conn.fetchrow(f"SELECT {_OPERATION_COLUMNS} FROM tag_operations WHERE id = $1", operation_id)
    return None if row is None else _operation(row)


async def list_operations(conn: Executor, limit: int) -> list[TagOperation]:
    rows = await conn.fetch(f"SELECT {_OPERATION_COLUMNS} FROM tag_operations ORDER BY id DESC LIMIT $1", limit)
    return [_operation(r) for r in rows]


async def set_archived(conn: Executor, where: str, params: Sequence[Any], archived: bool) -> int:
    """Flip the archived flag on matching examples that do not have it yet; the number flipped."""
    status = await conn.execute(
        f"UPDATE examples e SET archived = {bool(archived)}, updated_at = now() "
        f"WHERE {where} AND e.archived = {not archived}",
        *params,
    )
    return int(status.rsplit(" ", 1)[1])


async def aggregates(conn: Executor, where: str, params: Sequence[Any], buckets: int) -> list[Aggregate]:
    """Count, averages and dates overall, by intent, by platform and by quality bucket, from one scan.

    The inner query groups the matching examples by (intent, platform, bucket) in one parallel pass;
    the outer one rolls those few hundred groups up into the four groupings.
    """
    p = f"${len(params) + 1}"
    rows = await conn.fetch(
        f"""
        WITH cube AS (
            SELECT e.intent, e.platform, least(width_bucket(e.quality_score, 0, 1, {p}), {p}) AS bucket,
                   count(*) AS n, sum(e.quality_score) AS score_sum, count(e.quality_score) AS score_n,
                   sum(e.success::int) AS success_sum, count(e.success) AS success_n,
                   min(e.created_at) AS earliest, max(e.created_at) AS latest
            FROM examples e WHERE {where}
            GROUP BY 1, 2, 3
        )
        SELECT grouping(intent, platform, bucket) AS grouping, intent, platform, bucket,
               coalesce(sum(n), 0)::bigint AS count, sum(score_sum) / nullif(sum(score_n), 0) AS avg_quality_score,
               sum(success_sum)::float8 / nullif(sum(success_n), 0) AS success_rate,
               min(earliest) AS earliest, max(latest) AS latest
        FROM cube GROUP BY GROUPING SETS ((), (intent), (platform), (bucket))
        """,
        *params,
        buckets,
    )
    return [_aggregate(r) for r in rows]


def _aggregate(row: asyncpg.Record) -> Aggregate:
    grouping = row["grouping"]  # bit 2: intent rolled up, bit 1: platform, bit 0: bucket
    if grouping == 0b111:
        key: tuple[str, Any] = ("all", None)
    elif grouping == 0b011:
        key = ("intent", row["intent"])
    elif grouping == 0b101:
        key = ("platform", row["platform"])
    else:
        key = ("bucket", row["bucket"])
    summary = Summary(row["count"], row["avg_quality_score"], row["success_rate"], row["earliest"], row["latest"])
    return Aggregate(key[0], key[1], summary)


async def count_not_archived(conn: Executor) -> int:
    total: int = await conn.fetchval("SELECT count(*) FROM examples WHERE NOT archived")
    return total


async def quality_histogram(conn: Executor, where: str, params: Sequence[Any], buckets: int) -> dict[int, int]:
    """{bucket number 1..buckets: count}; a score of exactly 1 falls in the last bucket."""
    return {a.key: a.summary.count for a in await aggregates(conn, where, params, buckets) if a.grouping == "bucket"}


async def counts_by_tag(conn: Executor, where: str, params: Sequence[Any]) -> list[tuple[str, int]]:
    """(tag, count), most frequent first; reads only the examples that have tags."""
    rows = await conn.fetch(
        f"SELECT tag, count(*) AS count FROM examples e CROSS JOIN LATERAL unnest(e.tags) AS tag "
        f"WHERE {where} AND e.tags <> '{{}}' GROUP BY tag ORDER BY count DESC, tag",
        *params,
    )
    return [(r["tag"], r["count"]) for r in rows]
