"""SQL for examples: the batch upsert, and reads of only the columns asked for, in keyset order."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import asyncpg

from tuneyard.core.db import Condition, Connection, Executor, Pool, fetch_planned, transact, xact_lock
from tuneyard.core.page import Count
from tuneyard.examples.models import (
    COLUMNS,
    RECORDED,
    SUMMARY_FOLD_DUE,
    SUMMARY_FOLD_MOST,
    TAGS_LOCK,
    Example,
    ExampleField,
    RecordResult,
)
from tuneyard.examples.ordering import ExampleOrder, Position
from tuneyard.examples.summary_filter import summary_union

WRITTEN = [f for f in RECORDED if f.name != "tags"]  # the columns of examples a batch writes, in RECORDED order
_REPLACED = [f.name for f in WRITTEN if f.content and f.name != "created_at"]  # a re-send overwrites these
_TAGS = [f.name for f in RECORDED].index("tags")
_CREATED_AT = [f.name for f in RECORDED].index("created_at")


def stored_column(field: ExampleField) -> str:
    """How a recorded column arrives from the batch (`r`) into its table column."""
    name = field.name
    if field.json:
        return f"r.{name}::jsonb"
    if field.labels:
        return f"CASE WHEN r.{name} IS NOT NULL THEN ARRAY(SELECT jsonb_array_elements_text(r.{name}::jsonb)) END"
    if name == "created_at":
        return "coalesce(r.created_at, now())"
    return f"r.{name}"


# One statement writes the examples, in executionId order: the order every writer of examples rows locks them in
# (see TAGS_LOCK). New examples still take their ids in the order of the batch, drawn before the rows are sorted.
# ON CONFLICT meets the row as it is now, also one another call committed after this statement began, so a re-send
# is compared with what was acknowledged, never with this statement's older snapshot.
# DO UPDATE sees the proposed row (EXCLUDED), not the batch: the last parameter, a jsonb object keyed by executionId
# (a keyed lookup), names the examples sent with a createdAt, and only those may change the stored one.
_DATED = f"${len(WRITTEN) + 1}::jsonb ? e.execution_id"
_UPSERT = f"""
WITH batch AS MATERIALIZED (
    SELECT nextval('examples_id_seq') AS id, r.*
    FROM unnest({", ".join(f"${i}::{f.sql_type}[]" for i, f in enumerate(WRITTEN, 1))})
        AS r({", ".join(f.name for f in WRITTEN)})
), written AS (
    INSERT INTO examples AS e (id, {", ".join(f.name for f in WRITTEN)}) OVERRIDING SYSTEM VALUE
    SELECT r.id, {", ".join(stored_column(f) for f in WRITTEN)}
    FROM batch r
    ORDER BY r.execution_id COLLATE "C"
    ON CONFLICT (execution_id) DO UPDATE SET
        {", ".join(f"{c} = EXCLUDED.{c}" for c in _REPLACED)},
        created_at = CASE WHEN {_DATED} THEN EXCLUDED.created_at ELSE e.created_at END,
        updated_at = now()
    WHERE ({", ".join(f"e.{c}" for c in _REPLACED)}) IS DISTINCT FROM ({", ".join(f"EXCLUDED.{c}" for c in _REPLACED)})
       OR ({_DATED} AND e.created_at <> EXCLUDED.created_at)
    RETURNING e.id, (xmax = 0) AS inserted
)
SELECT coalesce(array_agg(id) FILTER (WHERE inserted), '{{}}') AS inserted,
       coalesce(array_agg(id) FILTER (WHERE NOT inserted), '{{}}') AS updated
FROM written
"""

# Tags from the orchestrator join the curated ones; re-recording never drops a curator's tag. A statement of its own,
# after the upsert: its snapshot then holds every example of the batch, also those another call inserted meanwhile.
_ADD_TAGS = """
INSERT INTO example_tags AS t (example_id, tags)
SELECT e.id, ARRAY(SELECT jsonb_array_elements_text(r.tags::jsonb))
FROM unnest($1::text[], $2::text[]) AS r(execution_id, tags)
JOIN examples e ON e.execution_id = r.execution_id
ON CONFLICT (example_id) DO UPDATE
    SET tags = ARRAY(SELECT DISTINCT x COLLATE "C" FROM unnest(t.tags || EXCLUDED.tags) AS x ORDER BY 1)
    WHERE NOT (EXCLUDED.tags <@ t.tags)
RETURNING t.example_id
"""


async def upsert(pool: Pool, columns: list[list[Any]]) -> RecordResult:
    """Insert or update a validated batch, given as columns in RECORDED order, in one transaction.

    An example counts as updated when its content changed or it gained tags. The first call to send an example
    inserts it; a later one with the same content (and no createdAt, or the same one) finds it unchanged.
    """
    execution_ids = columns[0]
    dated = dict.fromkeys(i for i, at in zip(execution_ids, columns[_CREATED_AT], strict=True) if at is not None)
    tagged = [(i, tags) for i, tags in zip(execution_ids, columns[_TAGS], strict=True) if tags != "[]"]
    written = [column for k, column in enumerate(columns) if k != _TAGS]

    async def write(conn: Connection) -> RecordResult:
        row = await conn.fetchrow(_UPSERT, *written, dated)
        assert row is not None
        retagged: set[int] = set()
        if tagged:
            await xact_lock(conn, TAGS_LOCK)
            ids, tags = [i for i, _ in tagged], [t for _, t in tagged]
            retagged = {r["example_id"] for r in await conn.fetch(_ADD_TAGS, ids, tags)}
        inserted, updated = set(row["inserted"]), set(row["updated"])
        changed = len(updated | (retagged - inserted))
        return RecordResult(len(inserted), changed, len(execution_ids) - len(inserted) - changed)

    return await transact(pool, write, affected=lambda result: result.inserted + result.updated)


# Times leave PostgreSQL as the text datetime.isoformat() makes of a UTC time (six digits of fraction, none when they
# are all zero): decoding them into datetimes and formatting those again took ~15% of a page's CPU in the server.
_ISO_TEXT = (
    "to_char(e.{0} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS') "
    "|| CASE WHEN to_char(e.{0}, 'US') = '000000' THEN '' ELSE to_char(e.{0}, '.US') END || '+00:00' AS {0}"
)
_TIMES = {"created_at", "updated_at"}


def _select_list(columns: Iterable[str]) -> str:
    """The requested columns (always with id), through the example_rows view (which joins tags only if read); times
    as ISO 8601 text (sorts and keysets name the table's columns, `e.created_at`, never these)."""
    wanted = set(columns)
    return ", ".join(["e.id", *(_ISO_TEXT.format(c) if c in _TIMES else f"e.{c}" for c in COLUMNS if c in wanted)])


async def get(conn: Executor, example_id: int, columns: Iterable[str]) -> Example | None:
    row = await conn.fetchrow(f"SELECT {_select_list(columns)} FROM example_rows e WHERE e.id = $1", example_id)
    return None if row is None else Example.from_row(row)


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
    rows = await fetch_planned(
        conn,
        where,
        f"SELECT {_select_list(needed)} FROM example_rows e WHERE {condition} "
        f"ORDER BY {key} {direction}, e.id {direction} LIMIT {int(limit)}",
        *params,
    )
    return [Example.from_row(r) for r in rows]


async def count(pool: Pool, where: Condition, budget_ms: int) -> Count:
    """The examples matching `where`: from the summary where it answers the filter, exact and at any size; otherwise
    counted, or where that takes longer than `budget_ms`, PostgreSQL's estimate (not exact)."""
    if where.summary is not None:
        await fold_summary(pool)
        parts = summary_union(where.summary, "SELECT s.n FROM {} s", "SELECT count(*) FROM examples e")
        rows = await fetch_planned(
            pool, parts, f"SELECT coalesce(sum(n), 0)::bigint FROM ({parts.sql}) k(n)", *parts.params
        )
        return Count(rows[0][0])
    try:
        rows = await fetch_planned(
            pool, where, f"SELECT count(*) FROM examples e WHERE {where.sql}", *where.params, timeout_ms=budget_ms
        )
        return Count(rows[0][0])
    except asyncpg.QueryCanceledError:
        plan = await fetch_planned(pool, where, f"EXPLAIN (FORMAT JSON) SELECT FROM examples e WHERE {where.sql}",
                                   *where.params)  # fmt: skip
        return Count(int(plan[0][0][0]["Plan"]["Plan Rows"]), exact=False)  # json, decoded by the pool's codec


async def fold_summary(executor: Executor) -> None:
    """Fold the summary's changes into it once there are many (one folder at a time: the others go on at once)."""
    await executor.execute("SELECT example_summary_fold($1, $2)", SUMMARY_FOLD_DUE, SUMMARY_FOLD_MOST)
