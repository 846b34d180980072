"""SQL for datasets: freezing a selection, current/deleted flags, member pages, diffs and export rows."""

from __future__ import annotations

from collections.abc import Iterable

import asyncpg

from tuneyard.core.db import Condition, Connection, Executor
from tuneyard.datasets.models import (
    Dataset,
    DiffCounts,
    DiffSide,
    NewDataset,
    Split,
)
from tuneyard.examples.models import FROZEN, Example

_DATASET_COLUMNS = (
    "id, name, version, description, filter, validation_fraction, seed, example_count, train_count, "
    "validation_count, avg_quality_score, content_hash, is_current, created_at, deleted_at"
)

FROZEN_COLUMNS = [f.name for f in FROZEN]
# A member's content hash: its hashed fields in FIELDS order, the time as epoch seconds (stable across zones), then
# one {"name": value} for each field added later that is set. A member without those hashes as it always has, so
# versions frozen before they existed keep their hashes, and diffs against them stay exact.
_HASHED = "jsonb_build_array({}){}".format(
    ", ".join(
        f"extract(epoch FROM e.{f.name})" if f.name == "created_at" else f"e.{f.name}"
        for f in FROZEN
        if f.hashed and not f.omitted_when_null
    ),
    "".join(
        f" || CASE WHEN e.{f.name} IS NULL THEN '[]'::jsonb ELSE jsonb_build_object('{f.graphql}', e.{f.name}) END"
        for f in FROZEN
        if f.hashed and f.omitted_when_null
    ),
)

# Advisory locks on (class, hashtext(name)) serialise version numbering and the current flag per name.
_NAME_LOCK_CLASS = 0x4454  # "DT"


def _dataset(row: asyncpg.Record) -> Dataset:
    return Dataset(**dict(row.items()))


async def lock_name(conn: Connection, name: str) -> None:
    """Hold the name's lock until the transaction ends."""
    await conn.execute("SELECT pg_advisory_xact_lock($1, hashtext($2))", _NAME_LOCK_CLASS, name)


async def create(conn: Connection, new: NewDataset, where: Condition) -> Dataset | None:
    """Freeze the examples matching a compiled filter as the next version of new.name, made current.

    Run inside a transaction. Returns None (and the caller rolls back) when nothing matched.
    """
    await lock_name(conn, new.name)
    dataset_id = await conn.fetchval(
        """
        INSERT INTO datasets (name, version, description, filter, validation_fraction, seed)
        SELECT $1, coalesce(max(version), 0) + 1, $2, $3, $4, $5 FROM datasets WHERE name = $1
        RETURNING id
        """,
        new.name, new.description, new.filter, new.validation_fraction, new.seed,
    )  # fmt: skip
    n = len(where.params)
    ds, seed, fraction = f"${n + 1}", f"${n + 2}", f"${n + 3}"
    columns = ", ".join(FROZEN_COLUMNS)
    # The split: the first 32 bits of md5("seed:id") as an unsigned number, against fraction * 2^32
    # (tests/support/datasets.py's expected_split writes it out again in Python). Content hashed per member for diffs;
    # the version's hash covers every member's content and split, in example id order.
    summary = await conn.fetchrow(
        f"""
        WITH frozen AS (
            INSERT INTO dataset_examples (dataset_id, example_id, split, content_sha, {columns})
            SELECT {ds}, e.id,
                   CASE WHEN ('x' || substr(md5({seed}::bigint::text || ':' || e.id::text), 1, 8))::bit(32)::bigint
                             < {fraction}::float8 * 4294967296 THEN 'VALIDATION' ELSE 'TRAIN' END,
                   sha256(convert_to(({_HASHED})::text, 'UTF8')),
                   {", ".join(f"e.{c}" for c in FROZEN_COLUMNS)}
            FROM example_rows e WHERE {where.sql}
            RETURNING example_id, split, content_sha, quality_score
        )
        SELECT count(*) AS example_count,
               count(*) FILTER (WHERE split = 'TRAIN') AS train_count,
               count(*) FILTER (WHERE split = 'VALIDATION') AS validation_count,
               avg(quality_score) AS avg_quality_score,
               encode(sha256(string_agg(content_sha || convert_to(split, 'UTF8'), ''::bytea ORDER BY example_id)),
                      'hex') AS content_hash
        FROM frozen
        """,
        *where.params, dataset_id, new.seed, new.validation_fraction,
    )  # fmt: skip
    assert summary is not None
    if summary["example_count"] == 0:
        return None
    await conn.execute("UPDATE datasets SET is_current = false WHERE name = $1 AND is_current", new.name)
    row = await conn.fetchrow(
        f"""
        UPDATE datasets SET example_count = $2, train_count = $3, validation_count = $4, avg_quality_score = $5,
                            content_hash = $6, is_current = true
        WHERE id = $1 RETURNING {_DATASET_COLUMNS}
        """,
        dataset_id, summary["example_count"], summary["train_count"], summary["validation_count"],
        summary["avg_quality_score"], summary["content_hash"],
    )  # fmt: skip
    assert row is not None
    return _dataset(row)


async def get(conn: Executor, dataset_id: int) -> Dataset | None:
    row = await conn.fetchrow(f"SELECT {_DATASET_COLUMNS} FROM datasets WHERE id = $1", dataset_id)
    return None if row is None else _dataset(row)


async def list_datasets(
    conn: Executor, name: str | None, include_deleted: bool, example_id: int | None = None
) -> list[Dataset]:
    """By name, newest version first; with example_id, only the versions that have it as a member.

    Membership is one primary-key probe of dataset_examples per version listed.
    """
    rows = await conn.fetch(
        f"""
        SELECT {_DATASET_COLUMNS} FROM datasets d
        WHERE ($1::text IS NULL OR name = $1) AND ($2 OR deleted_at IS NULL)
          AND ($3::bigint IS NULL
               OR EXISTS (SELECT 1 FROM dataset_examples m WHERE m.dataset_id = d.id AND m.example_id = $3))
        ORDER BY name, version DESC
        """,
        name, include_deleted, example_id,
    )  # fmt: skip
    return [_dataset(r) for r in rows]


async def set_current(conn: Connection, dataset: Dataset) -> Dataset:
    """Make a version the current one of its name; run inside a transaction holding the name's lock."""
    await conn.execute("UPDATE datasets SET is_current = false WHERE name = $1 AND is_current", dataset.name)
    row = await conn.fetchrow(
        f"UPDATE datasets SET is_current = true WHERE id = $1 RETURNING {_DATASET_COLUMNS}", dataset.id
    )
    assert row is not None
    return _dataset(row)


async def soft_delete(conn: Connection, dataset: Dataset) -> Dataset:
    """Mark deleted; if it was current, the newest remaining version of its name becomes current."""
    row = await conn.fetchrow(
        f"""
        UPDATE datasets SET deleted_at = clock_timestamp(), is_current = false
        WHERE id = $1 RETURNING {_DATASET_COLUMNS}
        """,
        dataset.id,
    )
    assert row is not None
    if dataset.is_current:
        await conn.execute(
            """
            UPDATE datasets SET is_current = true
            WHERE id = (SELECT id FROM datasets WHERE name = $1 AND deleted_at IS NULL ORDER BY version DESC LIMIT 1)
            """,
            dataset.name,
        )
    return _dataset(row)


def _member_list(columns: Iterable[str], alias: str) -> str:
    wanted = [c for c in FROZEN_COLUMNS if c in set(columns)]
    return ", ".join([f"{alias}.example_id AS id", *(f"{alias}.{c}" for c in wanted)])


def to_example(row: asyncpg.Record) -> Example:
    """A frozen member as an Example: the content it had when frozen; it was not archived then."""
    return Example(archived=False, **dict(row.items()))


async def member_page(
    conn: Executor, dataset_id: int, split: Split | None, after: int | None, limit: int, columns: Iterable[str]
) -> list[Example]:
    """Members in example id order, as frozen."""
    rows = await conn.fetch(
        f"""
        SELECT {_member_list(columns, "d")} FROM dataset_examples d
        WHERE d.dataset_id = $1 AND ($2::text IS NULL OR d.split = $2) AND ($3::bigint IS NULL OR d.example_id > $3)
        ORDER BY d.example_id LIMIT $4
        """,
        dataset_id, None if split is None else split.value, after, limit,
    )  # fmt: skip
    return [to_example(r) for r in rows]


async def member_count(conn: Executor, dataset_id: int, split: Split | None) -> int:
    total: int = await conn.fetchval(
        "SELECT count(*) FROM dataset_examples WHERE dataset_id = $1 AND ($2::text IS NULL OR split = $2)",
        dataset_id, None if split is None else split.value,
    )  # fmt: skip
    return total


async def diff_counts(conn: Executor, base_id: int, head_id: int) -> DiffCounts:
    row = await conn.fetchrow(
        """
        SELECT count(*) FILTER (WHERE b.example_id IS NULL) AS added,
               count(*) FILTER (WHERE h.example_id IS NULL) AS removed,
               count(*) FILTER (WHERE b.example_id IS NOT NULL AND h.example_id IS NOT NULL) AS unchanged,
               count(*) FILTER (WHERE b.content_sha <> h.content_sha) AS changed
        FROM (SELECT example_id, content_sha FROM dataset_examples WHERE dataset_id = $1) b
        FULL JOIN (SELECT example_id, content_sha FROM dataset_examples WHERE dataset_id = $2) h
            ON b.example_id = h.example_id
        """,
        base_id, head_id,
    )  # fmt: skip
    assert row is not None
    return DiffCounts(**dict(row.items()))


async def diff_page(
    conn: Executor, side: DiffSide, base_id: int, head_id: int, after: int | None, limit: int, columns: Iterable[str]
) -> list[Example]:
    """One page of added (from head), removed (from base) or changed (from head) members, by example id."""
    listed, other = (base_id, head_id) if side is DiffSide.REMOVED else (head_id, base_id)
    if side is DiffSide.CHANGED:
        condition = "EXISTS (SELECT 1 FROM dataset_examples o WHERE o.dataset_id = $2 AND o.example_id = d.example_id AND o.content_sha <> d.content_sha)"
    else:
        condition = (
            "NOT EXISTS (SELECT 1 FROM dataset_examples o WHERE o.dataset_id = $2 AND o.example_id = d.example_id)"
        )
    rows = await conn.fetch(
        f"""
        SELECT {_member_list(columns, "d")} FROM dataset_examples d
        WHERE d.dataset_id = $1 AND ($3::bigint IS NULL OR d.example_id > $3) AND {condition}
        ORDER BY d.example_id LIMIT $4
        """,
        listed, other, after, limit,
    )  # fmt: skip
    return [to_example(r) for r in rows]
