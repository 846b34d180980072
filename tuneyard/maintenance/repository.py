"""SQL for the examples check: one chunk at a time, in id order: its tags, then its stored content."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from tuneyard.core.graphql.scalars import EARLIEST, LATEST
from tuneyard.examples.models import FIELDS, MAX_LABEL

Executor = asyncpg.Pool | asyncpg.Connection


@dataclass(frozen=True, slots=True)
class ChunkReport:
    last_id: int | None
    examined: int
    tags_not_normalized: int  # unsorted, duplicated or blank tags
    blank_tags: int
    overlong_tags: int
    repaired: int


async def count_examples(conn: Executor) -> int:
    total: int = await conn.fetchval("SELECT count(*) FROM examples")
    return total


async def check_chunk(conn: Executor, after_id: int, limit: int, repair: bool) -> ChunkReport:
    """Check the next `limit` examples after `after_id`; with `repair`, rewrite their tags as a proper set."""
    row = await conn.fetchrow(
        """
        WITH chunk AS (
            SELECT e.id, coalesce(t.tags, '{}') AS tags,
                   ARRAY(SELECT DISTINCT x COLLATE "C" FROM unnest(t.tags) AS x WHERE x ~ '\\S' ORDER BY 1) AS fixed,
                   EXISTS (SELECT 1 FROM unnest(t.tags) AS x WHERE x !~ '\\S') AS has_blank,
                   EXISTS (SELECT 1 FROM unnest(t.tags) AS x WHERE length(x) > $3) AS has_long
            FROM examples e LEFT JOIN example_tags t ON t.example_id = e.id
            WHERE e.id > $1 ORDER BY e.id LIMIT $2
        ), repaired AS (
            -- `t.tags = chunk.tags` skips a row a curator re-tagged meanwhile (writers keep tags a set anyway).
            UPDATE example_tags t SET tags = chunk.fixed
            FROM chunk
            WHERE $4 AND t.example_id = chunk.id AND chunk.tags IS DISTINCT FROM chunk.fixed
              AND t.tags = chunk.tags AND cardinality(chunk.fixed) > 0
            RETURNING t.example_id
        ), cleared AS (
            DELETE FROM example_tags t USING chunk
            WHERE $4 AND t.example_id = chunk.id AND t.tags = chunk.tags AND cardinality(chunk.fixed) = 0
            RETURNING t.example_id
        )
        SELECT max(id) AS last_id, count(*) AS examined,
               count(*) FILTER (WHERE tags IS DISTINCT FROM fixed) AS tags_not_normalized,
               count(*) FILTER (WHERE has_blank) AS blank_tags,
               count(*) FILTER (WHERE has_long) AS overlong_tags,
               (SELECT count(*) FROM repaired) + (SELECT count(*) FROM cleared) AS repaired
        FROM chunk
        """,
        after_id, limit, MAX_LABEL, repair,
    )  # fmt: skip
    assert row is not None
    return ChunkReport(**dict(row.items()))


@dataclass(frozen=True, slots=True)
class StoredContent:
    """An example's JSON fields as stored (jsonb text), and its createdAt when outside the years Tuneyard takes."""

    id: int
    execution_id: str
    json: dict[str, str | None]  # by GraphQL field name
    created_at_outside: str | None


# The JSON fields by GraphQL name and column; createdAt read as text, since a driver cannot decode every year.
_JSON_FIELDS = [(f.graphql, f.name) for f in FIELDS if f.json]


async def stored_content(conn: Executor, after_id: int, last_id: int) -> list[StoredContent]:
    """The JSON fields and out-of-range createdAt of the examples with ids in (after_id, last_id]."""
    rows = await conn.fetch(
        f"""
        SELECT id, execution_id, {", ".join(f"{column}::text" for _, column in _JSON_FIELDS)},
               CASE WHEN created_at NOT BETWEEN $3 AND $4 THEN created_at::text END AS created_at_outside
        FROM examples WHERE id > $1 AND id <= $2 ORDER BY id
        """,
        after_id, last_id, EARLIEST, LATEST,
    )  # fmt: skip
    return [
        StoredContent(
            r["id"], r["execution_id"], {name: r[column] for name, column in _JSON_FIELDS}, r["created_at_outside"]
        )
        for r in rows
    ]
