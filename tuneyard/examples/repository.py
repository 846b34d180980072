"""SQL for examples: the batch upsert, and reads of only the columns asked for, in keyset order."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from tuneyard.core.db import Condition, Executor, Pool, xact_lock
from tuneyard.examples.models import COLUMNS, RECORDED, TAGS_LOCK, Example, ExampleField, RecordResult
from tuneyard.examples.ordering import ExampleOrder, Position

_CONTENT = [f.name for f in RECORDED if f.content]


def _stored(field: ExampleField) -> str:
    """How a recorded column arrives from the batch (`r`) into its table column."""
    name = field.name
    if field.json:
        return f"r.{name}::jsonb"
    if field.labels:
        return f"CASE WHEN r.{name} IS NOT NULL THEN ARRAY(SELECT jsonb_array_elements_text(r.{name}::jsonb)) END"
    if name == "created_at":
        # Without a time from the client, a re-send keeps the time of the first recording.
        return f"coalesce(r.{name}, (SELECT c.{name} FROM examples c WHERE c.execution_id = r.execution_id), now())"
    return f"r.{name}"


_UNNEST = ", ".join(f"${i}::{f.sql_type}[]" for i, f in enumerate(RECORDED, 1))
_UPSERT = f"""
WITH input AS (
    SELECT * FROM unnest({_UNNEST}) AS r({", ".join(f.name for f in RECORDED)})
), written AS (
    INSERT INTO examples AS e (execution_id, {", ".join(_CONTENT)})
    SELECT r.execution_id, {", ".join(_stored(f) for f in RECORDED if f.content)}
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
_TAGS = [f.name for f in RECORDED].index("tags")


async def upsert(pool: Pool, columns: list[list[Any]]) -> RecordResult:
    """Insert or update a validated batch, given as columns in RECORDED order, in one statement.

    An example counts as updated when its content changed or it gained tags.
    """
    async with pool.acquire() as conn, conn.transaction():
        if any(tags != "[]" for tags in columns[_TAGS]):
            await xact_lock(conn, TAGS_LOCK)
        row = await conn.fetchrow(_UPSERT, *columns)
    assert row is not None
    inserted, updated = row["inserted"], row["updated"]
    return RecordResult(inserted=inserted, updated=updated, unchanged=len(columns[0]) - inserted - updated)


def _select_list(columns: Iterable[str]) -> str:
    """The requested columns (always with id), through the example_rows view (which joins tags only if read)."""
    wanted = set(columns)
    return ", ".join(["e.id", *(f"e.{c}" for c in COLUMNS if c in wanted)])


def _example(row: Any) -> Example:
    return Example(**dict(row.items()))  # measured faster than Example(**row) on a Record


async def get(conn: Executor, example_id: int, columns: Iterable[str]) -> Example | None:
    row = await conn.fetchrow(f"SELECT {_select_list(columns)} FROM example_rows e WHERE e.id = $1", example_id)
    return None if row is None else _example(row)


def _sort_key(order: ExampleOrder) -> str:
    # A missing quality score sorts as -1 (see ExampleOrder.key_of).
    return "e.created_at" if order.by_created_at else "coalesce(e.quality_score, -1)"


async def page(
    conn: Executor, where: Condition, order: ExampleOrder, after: Position | None, limit: int, columns: Iterable[str]
) -> list[Example]:
    """Up to `limit` examples matching `where`, in `order`, strictly after the keyset position `after`."""
    key, direction = _sort_key(order), "DESC" if order.descending else "ASC"
    condition, params = where.sql, list(where.params)
    if after is not None:
        n = len(params)
        condition += f" AND ({key}, e.id) {'<' if order.descending else '>'} (${n + 1}, ${n + 2})"
        params += [after.key, after.id]
    needed = {*columns, "created_at", "quality_score"}  # the cursor is made of them
    rows = await conn.fetch(
        f"SELECT {_select_list(needed)} FROM example_rows e WHERE {condition} "
        f"ORDER BY {key} {direction}, e.id {direction} LIMIT {int(limit)}",
        *params,
    )
    return [_example(r) for r in rows]


async def count(conn: Executor, where: Condition) -> int:
    total: int = await conn.fetchval(f"SELECT count(*) FROM examples e WHERE {where.sql}", *where.params)
    return total
