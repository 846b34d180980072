"""SQL for export files: streaming a version's frozen members, and the rows recording each written file."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg

from tuneyard.core.db import Connection, Executor
from tuneyard.datasets.exports.models import TokenCounts
from tuneyard.datasets.models import DatasetExport, ExportFormat, Split
from tuneyard.examples.models import FROZEN

_EXPORT_COLUMNS = "id, dataset_id, format, split, job_id, file_name, line_count, size_bytes, sha256, created_at"


def _export(row: asyncpg.Record) -> DatasetExport:
    values = dict(row.items())
    values["format"] = ExportFormat(values["format"])
    values["split"] = None if values["split"] is None else Split(values["split"])
    return DatasetExport(**values)


# Every member of a version ($1) in example id order, for a server-side cursor: FrozenExample's fields, JSON
# as its stored text (decoding it would be most of an export's cost).
STREAM_SQL = "SELECT example_id, split, {} FROM dataset_examples WHERE dataset_id = $1 ORDER BY example_id".format(
    ", ".join(f"{f.name}::text AS {f.name}" if f.json else f.name for f in FROZEN)
)

# The same members with only what a training text is made of (see exporters.base.user_text), for the
# formats built from it alone: fewer columns to send and decode.
STREAM_TEXT_SQL = (
    "SELECT example_id, split, user_request, intent, platform, business_state::text, execution_plan::text "
    "FROM dataset_examples WHERE dataset_id = $1 ORDER BY example_id"
)


async def exports_of(conn: Executor, dataset_id: int) -> list[DatasetExport]:
    rows = await conn.fetch(
        f"SELECT {_EXPORT_COLUMNS} FROM dataset_exports WHERE dataset_id = $1 ORDER BY id", dataset_id
    )
    return [_export(r) for r in rows]


async def exports_of_job(conn: Executor, job_id: str) -> list[DatasetExport]:
    rows = await conn.fetch(f"SELECT {_EXPORT_COLUMNS} FROM dataset_exports WHERE job_id = $1 ORDER BY id", job_id)
    return [_export(r) for r in rows]


async def get_export(conn: Executor, export_id: int) -> DatasetExport | None:
    row = await conn.fetchrow(f"SELECT {_EXPORT_COLUMNS} FROM dataset_exports WHERE id = $1", export_id)
    return None if row is None else _export(row)


class _AlreadyRecorded(Exception):
    """Raised inside the recording transaction to roll it back."""


async def record_exports(
    conn: Connection, dataset_id: int, fmt: ExportFormat, job_id: str | None, files: Sequence[dict[str, Any]]
) -> list[DatasetExport] | None:
    """Record written files all together; None (nothing recorded) when this job already recorded its files."""
    try:
        async with conn.transaction():
            found = []
            for f in files:
                row = await conn.fetchrow(
                    f"""
                    INSERT INTO dataset_exports
                        (dataset_id, format, split, job_id, file_name, line_count, size_bytes, sha256)
                    VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                    ON CONFLICT (job_id, coalesce(split, '')) WHERE job_id IS NOT NULL DO NOTHING
                    RETURNING {_EXPORT_COLUMNS}
                    """,
                    dataset_id, fmt.value, f["split"], job_id, f["file_name"], f["line_count"], f["size_bytes"],
                    f["sha256"],
                )  # fmt: skip
                if row is None:
                    raise _AlreadyRecorded
                found.append(_export(row))
            return found
    except _AlreadyRecorded:
        return None


async def token_counts(conn: Executor, dataset_id: int) -> TokenCounts | None:
    row = await conn.fetchrow(
        "SELECT tokenizer, train_tokens, validation_tokens, largest FROM dataset_token_counts WHERE dataset_id = $1",
        dataset_id,
    )
    return None if row is None else TokenCounts(row[0], row[1], row[2], list(row[3]))


async def save_token_counts(conn: Executor, dataset_id: int, counts: TokenCounts) -> None:
    """Keep the counts (a version never changes, so whoever counted first wins)."""
    await conn.execute(
        """INSERT INTO dataset_token_counts (dataset_id, tokenizer, train_tokens, validation_tokens, largest)
           VALUES ($1, $2, $3, $4, $5) ON CONFLICT (dataset_id) DO NOTHING""",
        dataset_id, counts.tokenizer, counts.train, counts.validation, counts.largest,
    )  # fmt: skip


async def split_texts(conn: Executor, dataset_id: int, split: Split, limit: int) -> list[asyncpg.Record]:
    """The first `limit` members of a split (by example id) with what their training text is made of."""
    return await conn.fetch(
        "SELECT example_id, split, user_request, intent, platform, business_state::text, execution_plan::text "
        "FROM dataset_examples WHERE dataset_id = $1 AND split = $2 ORDER BY example_id LIMIT $3",
        dataset_id, split.value, limit,
    )  # fmt: skip
