"""SQL for bulk runs: starting a walk over example ids, and each of its chunks (one transaction each).

Every chunk locks its run's row and reads the resume point there, does the ids after it (up to `span` of them,
from the next example or logged id on), and moves the resume point past them, all in the caller's transaction:
two attempts at one job (a worker thought dead, and its replacement) take turns and never do a chunk twice.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from tuneyard.core.db import Condition, Connection, Executor, xact_lock
from tuneyard.curation.models import Action, OperationSpec, Run, Step
from tuneyard.curation.repository import (
    BLOCK,
    WRITE_CHANGED,
    difference,
    prepare_bulk_write,
    set_expression,
    tags_of,
)
from tuneyard.examples.models import TAGS_LOCK

_RUN_COLUMNS = "id, action, filter, job_id, first_id, last_id, done_through, changed, chunks, finished_at"


def _run(row: asyncpg.Record) -> Run:
    values = dict(row.items())
    finished_at = values.pop("finished_at")
    return Run(**{**values, "action": Action(values["action"]), "finished": finished_at is not None})


async def start_operation(
    conn: Connection, add: list[str], remove: list[str], note: str | None, filter_json: Any
) -> int:
    """A tag operation that a run will apply (nothing changed yet), with that run; the operation's id."""
    operation_id: int = await conn.fetchval(
        """
        WITH bounds AS (
            SELECT coalesce(min(id), 1) - 1 AS first_id, coalesce(max(id), 0) AS last_id FROM examples
        ), run AS (
            INSERT INTO curation_runs (action, first_id, last_id, done_through)
            SELECT 'TAG', first_id, last_id, first_id FROM bounds RETURNING id
        )
        INSERT INTO tag_operations (added, removed, note, filter, affected_count, run_id)
        SELECT $1, $2, $3, $4, 0, run.id FROM run RETURNING id
        """,
        add, remove, note, filter_json,
    )  # fmt: skip
    return operation_id


async def start_archive(conn: Executor, action: Action, filter_json: Any) -> int:
    """A run that archives (or restores) the examples matching a filter, over the ids there are now; its id."""
    run_id: int = await conn.fetchval(
        """
        INSERT INTO curation_runs (action, filter, first_id, last_id, done_through)
        SELECT $1, $2, coalesce(min(id), 1) - 1, coalesce(max(id), 0), coalesce(min(id), 1) - 1 FROM examples
        RETURNING id
        """,
        action.value, filter_json,
    )  # fmt: skip
    return run_id


async def start_undo(conn: Connection, operation_id: int, previous: Run | None) -> int | None:
    """A run that undoes the operation, made its undo run: over the blocks of ids it logged, or going on from where
    `previous` (its undo run, one that stopped) got to. Its id; None if, meanwhile, the operation was undone or its
    undo run is no longer `previous` (undo starts take turns on the operation's row)."""
    state = await conn.fetchrow(
        "SELECT undone_at, undo_run_id FROM tag_operations WHERE id = $1 FOR UPDATE", operation_id
    )
    if (
        state is None
        or state["undone_at"] is not None
        or state["undo_run_id"] != (None if previous is None else previous.id)
    ):
        return None
    if previous is not None:
        bounds = (previous.first_id, previous.last_id, previous.done_through)
    else:
        row = await conn.fetchrow(
            f"SELECT coalesce(min(block), 0) * {BLOCK} - 1 AS first_id, (coalesce(max(block), -1) + 1) * {BLOCK} - 1 "
            "AS last_id FROM tag_operation_batches WHERE operation_id = $1",
            operation_id,
        )
        assert row is not None
        first = min(row["first_id"], row["last_id"])
        bounds = (first, row["last_id"], first)
    run_id: int | None = await conn.fetchval(
        """
        WITH run AS (
            INSERT INTO curation_runs (action, first_id, last_id, done_through) VALUES ('UNDO', $2, $3, $4) RETURNING id
        )
        UPDATE tag_operations o SET undo_run_id = run.id FROM run WHERE o.id = $1 RETURNING run.id
        """,
        operation_id, *bounds,
    )  # fmt: skip
    return run_id


async def forget_start(conn: Connection, run_id: int, operation_id: int | None, previous_undo: int | None) -> None:
    """Take back a run whose job could not be started: its tag operation (TAG), or the operation's undo run (UNDO)."""
    if operation_id is not None:
        await conn.execute("DELETE FROM tag_operations WHERE id = $1 AND run_id = $2", operation_id, run_id)
        await conn.execute(
            "UPDATE tag_operations SET undo_run_id = $3 WHERE id = $1 AND undo_run_id = $2",
            operation_id, run_id, previous_undo,
        )  # fmt: skip
    await conn.execute("DELETE FROM curation_runs WHERE id = $1", run_id)


async def attach_job(conn: Executor, run_id: int, job_id: int) -> None:
    await conn.execute(
        "UPDATE curation_runs SET job_id = $2 WHERE id = $1 AND job_id IS DISTINCT FROM $2", run_id, job_id
    )


async def get_run(conn: Executor, run_id: int) -> Run | None:
    row = await conn.fetchrow(f"SELECT {_RUN_COLUMNS} FROM curation_runs WHERE id = $1", run_id)
    return None if row is None else _run(row)


async def operation_spec(conn: Executor, operation_id: int) -> OperationSpec | None:
    row = await conn.fetchrow("SELECT added, removed, filter FROM tag_operations WHERE id = $1", operation_id)
    return None if row is None else OperationSpec(row["added"], row["removed"], row["filter"])


async def _lock_run(conn: Connection, run_id: int) -> Run:
    row = await conn.fetchrow(f"SELECT {_RUN_COLUMNS} FROM curation_runs WHERE id = $1 FOR UPDATE", run_id)
    assert row is not None, f"no curation run {run_id}"
    return _run(row)


async def _next_example(conn: Connection, run: Run) -> int:
    """The resume point moved up to just before the next example (ids purged leave gaps), or to the end."""
    found: int = await conn.fetchval(
        "SELECT coalesce(min(id) - 1, $2) FROM examples WHERE id > $1 AND id <= $2", run.done_through, run.last_id
    )
    return found


async def _advance(conn: Connection, run: Run, through: int, changed: int) -> Run:
    row = await conn.fetchrow(
        f"""
        UPDATE curation_runs SET done_through = $2, changed = changed + $3, chunks = chunks + 1,
               finished_at = CASE WHEN $2 >= last_id THEN clock_timestamp() END
        WHERE id = $1 RETURNING {_RUN_COLUMNS}
        """,
        run.id, through, changed,
    )  # fmt: skip
    assert row is not None
    return _run(row)


async def tag_chunk(
    conn: Connection, run_id: int, operation_id: int, where: Condition, add: list[str], remove: list[str], span: int
) -> Step:
    """Apply the operation to the next chunk of examples matching `where` now, logging what changed under it."""
    await xact_lock(conn, TAGS_LOCK)  # before any row lock, as every tag writer takes it
    await prepare_bulk_write(conn)
    operation = await conn.fetchrow(
        "SELECT run_id, undone_at IS NOT NULL OR undo_run_id IS NOT NULL AS undoing FROM tag_operations "
        "WHERE id = $1 FOR UPDATE",
        operation_id,
    )
    run = await _lock_run(conn, run_id)
    if run.finished:
        return Step(run)
    if operation is None or operation["run_id"] != run_id or operation["undoing"]:
        return Step(run, f"tag operation {operation_id} was undone while this job applied it; it stopped there")
    start = await _next_example(conn, run)
    end = min(start + span, run.last_id)
    n = len(where.params)
    add_p, remove_p, op_p, start_p, end_p = (f"${n + i}" for i in range(1, 6))
    changed: int = await conn.fetchval(
        f"""
        WITH target AS MATERIALIZED (
            SELECT e.id, {tags_of("e.id")} AS old_tags FROM examples e
            WHERE e.id > {start_p}::bigint AND e.id <= {end_p}::bigint AND ({where.sql})
        ), changed AS (
            SELECT id, old_tags, {set_expression("old_tags", f"{add_p}::text[]", f"{remove_p}::text[]")} AS new_tags
            FROM target WHERE NOT (old_tags @> {add_p}::text[] AND NOT old_tags && {remove_p}::text[])
        ), {WRITE_CHANGED}, logged AS (
            -- chunks go up in id order, so appending to a block's list keeps it sorted
            INSERT INTO tag_operation_batches AS b (operation_id, block, added, removed, example_ids)
            SELECT {op_p}::bigint, change.id / {BLOCK}, change.added, change.removed,
                   array_agg(change.id ORDER BY change.id)
            FROM (
                SELECT id, {difference("new_tags", "old_tags")} AS added, {difference("old_tags", "new_tags")} AS removed
                FROM changed
            ) AS change
            GROUP BY change.id / {BLOCK}, change.added, change.removed
            ON CONFLICT (operation_id, block, added, removed) DO UPDATE SET example_ids = b.example_ids || EXCLUDED.example_ids
        ), counted AS (
            UPDATE tag_operations SET affected_count = affected_count + (SELECT count(*) FROM changed)
            WHERE id = {op_p}::bigint
        )
        SELECT count(*) FROM changed
        """,
        *where.params, add, remove, operation_id, start, end,
    )  # fmt: skip
    return Step(await _advance(conn, run, end, changed))


async def _next_logged(conn: Connection, operation_id: int, run: Run) -> int:
    """The resume point moved up to just before the next id the operation logged, or to the end."""
    found: int = await conn.fetchval(
        f"""
        SELECT coalesce(min(x) - 1, $3::bigint) FROM tag_operation_batches b CROSS JOIN LATERAL unnest(b.example_ids) x
        WHERE b.operation_id = $1 AND x > $2::bigint AND b.block = (
            SELECT min(block) FROM tag_operation_batches
            WHERE operation_id = $1 AND block >= $2::bigint / {BLOCK} AND example_ids[cardinality(example_ids)] > $2::bigint
        )
        """,
        operation_id, run.done_through, run.last_id,
    )  # fmt: skip
    return found


async def undo_chunk(conn: Connection, run_id: int, operation_id: int, span: int) -> Step:
    """Undo the operation on the next chunk of the examples it logged; the last chunk marks it undone."""
    await xact_lock(conn, TAGS_LOCK)
    await prepare_bulk_write(conn)
    operation = await conn.fetchrow(
        "SELECT undo_run_id, undone_at FROM tag_operations WHERE id = $1 FOR UPDATE", operation_id
    )
    run = await _lock_run(conn, run_id)
    if run.finished:
        return Step(run)
    if operation is None or operation["undo_run_id"] != run_id or operation["undone_at"] is not None:
        return Step(run, f"tag operation {operation_id} was undone by another call meanwhile; this job stopped")
    start = await _next_logged(conn, operation_id, run)
    end = min(start + span, run.last_id)
    changed: int = await conn.fetchval(
        f"""
        WITH logged AS MATERIALIZED (
            SELECT x AS id, {tags_of("x")} AS old_tags, b.added, b.removed
            FROM tag_operation_batches b CROSS JOIN LATERAL unnest(b.example_ids) AS x
            WHERE b.operation_id = $1 AND b.block BETWEEN $2::bigint / {BLOCK} AND $3::bigint / {BLOCK}
              AND x > $2::bigint AND x <= $3::bigint
        ), changed AS (
            SELECT id, old_tags, {set_expression("old_tags", "removed", "added")} AS new_tags
            FROM logged WHERE NOT (old_tags @> removed AND NOT old_tags && added)
        ), {WRITE_CHANGED}
        SELECT count(*) FROM changed
        """,
        operation_id, start, end,
    )  # fmt: skip
    after = await _advance(conn, run, end, changed)
    if after.finished:
        await conn.execute("UPDATE tag_operations SET undone_at = clock_timestamp() WHERE id = $1", operation_id)
    return Step(after)


async def archive_chunk(conn: Connection, run_id: int, where: Condition, archived: bool, span: int) -> Step:
    """Set (or clear) the archived flag on the next chunk of examples matching `where` now that lack it.

    Rows are locked in executionId order, as every writer of examples rows locks them (see repository.set_archived).
    """
    run = await _lock_run(conn, run_id)
    if run.finished:
        return Step(run)
    start = await _next_example(conn, run)
    end = min(start + span, run.last_id)
    n = len(where.params)
    changed: int = await conn.fetchval(
        f"""
        WITH target AS MATERIALIZED (
            SELECT e.id FROM examples e
            WHERE e.id > ${n + 1}::bigint AND e.id <= ${n + 2}::bigint AND ({where.sql}) AND e.archived = {not archived}
            ORDER BY e.execution_id COLLATE "C" FOR NO KEY UPDATE OF e
        ), updated AS (
            UPDATE examples e SET archived = {bool(archived)}, updated_at = now() FROM target WHERE e.id = target.id
            RETURNING 1
        )
        SELECT count(*) FROM updated
        """,
        *where.params, start, end,
    )  # fmt: skip
    return Step(await _advance(conn, run, end, changed))
