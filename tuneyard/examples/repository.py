"""SQL for examples: batch upsert and reads of only the columns asked for."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import asyncpg

from tuneyard.examples import tags_lock as tags
from tuneyard.examples.models import BATCH_COLUMNS, Example, RecordResult

Executor = asyncpg.Pool | asyncpg.Connection

COLUMNS = (
    "execution_id", "user_request", "intent", "platform", "business_state", "execution_plan",
    "execution_result", "quality_score", "success", "tags", "archived", "post_publication_metrics",
    "patterns_discovered", "created_at", "updated_at",
)  # fmt: skip

# Content a re-send may change; when none of it differs the row is left alone and counted unchanged.
_CONTENT = (
    "user_request", "intent", "platform", "business_state", "execution_plan", "execution_result",
    "quality_score", "success", "post_publication_metrics", "patterns_discovered", "created_at",
)  # fmt: skip

_UPSERT = f"""
WITH input AS (
    SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
                         $8::float8[], $9::bool[], $10::text[], $11::timestamptz[], $12::text[], $13::text[])
         AS r(execution_id, user_request, intent, platform, business_state, execution_plan, execution_result,
              quality_score, success, tags, created_at, post_publication_metrics, patterns)
), written AS (
    INSERT INTO examples AS e (execution_id, {", ".join(_CONTENT)})
    SELECT r.execution_id, r.user_request, r.intent, r.platform, r.business_state::jsonb, r.execution_plan::jsonb,
           r.execution_result::jsonb, r.quality_score, r.success, r.post_publication_metrics::jsonb,
           CASE WHEN r.patterns IS NOT NULL THEN ARRAY(SELECT jsonb_array_elements_text(r.patterns::jsonb)) END,
           -- Without a time from the client, a re-send keeps the time of the first recording.
           coalesce(r.created_at, (SELECT c.created_at FROM examples c WHERE c.execution_id = r.execution_id), now())
    FROM input r
    ON CONFLICT (execution_id) DO UPDATE SET
        {", ".join(f"{c} = EXCLUDED.{c}" for c in _CONTENT)},
        updated_at = now()
    WHERE ({", ".join(f"e.{c}" for c in _CONTENT)}) IS DISTINCT FROM ({", ".join(f"EXCLUDED.{c}" for c in _CONTENT)})
    RETURNING e.id, e.execution_id, (xmax = 0) AS inserted
), tagged AS (
    -- Tags from the orchestrator join the curated ones; re-recording never drops a curator's tag.
    INSERT INTO example_tags AS t (example_id, tags)
    SELECT coalesce(w.id, e.id), ARRAY(SELECT jsonb_array_elements_text(r.tags::jsonb))
    FROM input r
    LEFT JOIN written w ON w.execution_id = r.execution_id
    LEFT JOIN examples e ON e.execution_id = r.execution_id
    WHERE r.tags <> '[]'
    ON CONFLICT (example_id) DO UPDATE
        SET tags = ARRAY(SELECT DISTINCT x COLLATE "C" FROM unnest(t.tags || EXCLUDED.tags) AS x ORDER BY 1)
        WHERE NOT (EXCLUDED.tags <@ t.tags)
    RETURNING t.example_id
)
SELECT (SELECT count(*) FROM written WHERE inserted) AS inserted,
       (SELECT count(*) FROM written WHERE NOT inserted)
       + (SELECT count(*) FROM tagged WHERE example_id NOT IN (SELECT id FROM written)) AS updated
"""


async def upsert(pool: asyncpg.Pool, columns: list[list[Any]]) -> RecordResult:
    """Insert or update a validated batch, given as columns in BATCH_COLUMNS order, in one statement.

    An example counts as updated when its content changed or it gained tags.
    """
    async with pool.acquire() as conn, conn.transaction():
        if any(tags != "[]" for tags in columns[BATCH_COLUMNS.index("tags")]):
            await tags.lock(conn)
        row = await conn.fetchrow(_UPSERT, *columns)
    assert row is not None
    inserted, updated = row["inserted"], row["updated"]
    return RecordResult(inserted=inserted, updated=updated, unchanged=len(columns[0]) - inserted - updated)


def select_list(columns: Iterable[str]) -> str:
    """The SELECT list for the requested columns (always with id), qualified to keep ORDER BY on columns.

    Reads go through the example_rows view; example_tags is joined only when `tags` is selected.
    """
    wanted = [c for c in COLUMNS if c in set(columns)]
    return ", ".join(["e.id", *(f"e.{c}" for c in wanted)])


def to_example(row: asyncpg.Record) -> Example:
    return Example(**dict(row.items()))  # measured faster than Example(**row) on a Record


async def get(conn: Executor, example_id: int, columns: Iterable[str]) -> Example | None:
    row = await conn.fetchrow(f"SELECT {select_list(columns)} FROM example_rows e WHERE e.id = $1", example_id)
    return None if row is None else to_example(row)


async def fetch_page(
    conn: Executor, columns: Iterable[str], where: str, params: Sequence[Any], order_by: str, limit: int
) -> list[asyncpg.Record]:
    """Rows matching a compiled WHERE clause, in order; the caller builds the keyset condition."""
    sql = f"SELECT {select_list(columns)} FROM example_rows e WHERE {where} ORDER BY {order_by} LIMIT {int(limit)}"
    return await conn.fetch(sql, *params)


async def count(conn: Executor, where: str, params: Sequence[Any]) -> int:
    total: int = await conn.fetchval(f"SELECT count(*) FROM examples e WHERE {where}", *params)
    return total
