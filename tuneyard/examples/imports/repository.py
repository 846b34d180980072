"""SQL for an import, all in the caller's transaction: each chunk of checked lines is sent with COPY and inserted
at once (existing executionIds skipped); the lines' keys are kept to find duplicates and add tags at the end."""

from __future__ import annotations

from typing import Any

from tuneyard.core.db import Connection, xact_lock
from tuneyard.examples.models import RECORDED, TAGS_LOCK
from tuneyard.examples.repository import WRITTEN, stored_column

_CHUNK, _KEYS, _NEW = "import_chunk", "import_keys", "import_new"
# A chunk's columns: a line's number, then its row in RECORDED order, typed as recordExamples sends them: JSON
# values and label lists as JSON text (the pool's JSON codecs are text-only, and binary COPY needs binary ones).
COLUMNS = ("line", *(f.name for f in RECORDED))


# Temporary tables, dropped when the transaction ends (so a pooled connection keeps no state).
_CREATE = f"""
CREATE TEMPORARY TABLE {_CHUNK} (line int NOT NULL, {", ".join(f"{f.name} {f.sql_type}" for f in RECORDED)})
    ON COMMIT DROP;
CREATE TEMPORARY TABLE {_KEYS} (line int NOT NULL, execution_id text NOT NULL, tags text NOT NULL) ON COMMIT DROP;
CREATE TEMPORARY TABLE {_NEW} (id bigint NOT NULL, execution_id text NOT NULL) ON COMMIT DROP;
"""

# Examples rows are written in executionId order, "C" collation, the order every writer of examples locks them in
# (within a chunk: an import racing recordExamples over the same new executionIds may still meet a deadlock, which
# PostgreSQL resolves by aborting one of them). An executionId that exists is left as it is: its line is skipped.
_INSERT = f"""
WITH inserted AS (
    INSERT INTO examples AS e ({", ".join(f.name for f in WRITTEN)})
    SELECT {", ".join(stored_column(f) for f in WRITTEN)}
    FROM {_CHUNK} r
    ORDER BY r.execution_id COLLATE "C"
    ON CONFLICT (execution_id) DO NOTHING
    RETURNING e.id, e.execution_id
), new AS (
    INSERT INTO {_NEW} SELECT id, execution_id FROM inserted
), keys AS (
    INSERT INTO {_KEYS} SELECT line, execution_id, tags FROM {_CHUNK}
)
SELECT count(*) FROM inserted
"""

_DUPLICATES = f"""
SELECT execution_id, array_agg(line ORDER BY line) AS lines
FROM {_KEYS} GROUP BY execution_id HAVING count(*) > 1
ORDER BY min(line) LIMIT $1
"""

_TAG = f"""
INSERT INTO example_tags (example_id, tags)
SELECT n.id, ARRAY(SELECT jsonb_array_elements_text(k.tags::jsonb))
FROM {_NEW} n JOIN {_KEYS} k USING (execution_id)
WHERE k.tags <> '[]'
"""


async def stage(conn: Connection) -> None:
    """The temporary tables of an import."""
    await conn.execute(_CREATE)


async def insert_chunk(conn: Connection, rows: list[tuple[Any, ...]]) -> int:
    """Insert checked rows (line number first, then RECORDED order) whose executionId is new; how many were."""
    await conn.copy_records_to_table(_CHUNK, records=rows, columns=COLUMNS)
    inserted: int = await conn.fetchval(_INSERT)
    await conn.execute(f"TRUNCATE {_CHUNK}")
    return inserted


async def duplicates(conn: Connection, limit: int) -> list[tuple[str, list[int]]]:
    """executionIds on more than one line, with their lines, first lines first."""
    return [(r["execution_id"], list(r["lines"])) for r in await conn.fetch(_DUPLICATES, limit)]


async def tag(conn: Connection) -> None:
    """Give the inserted examples the tags of their lines, once every example is written (see TAGS_LOCK)."""
    await xact_lock(conn, TAGS_LOCK)
    await conn.execute(_TAG)
