"""Shared by the dataset tests: loading generated examples and an independent split computation."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

import asyncpg

from bench.data import examples as generate
from tuneyard.examples import service as examples_service
from tuneyard.examples.models import COLUMN_OF, NewExample

DATASET_TABLES = "TRUNCATE examples, datasets, dataset_examples, dataset_exports RESTART IDENTITY CASCADE"


def new_examples(rows: list[dict[str, Any]]) -> list[NewExample]:
    return [
        NewExample(**{COLUMN_OF[k]: (datetime.fromisoformat(v) if k == "createdAt" else v) for k, v in r.items()})
        for r in rows
    ]


async def load(pool: asyncpg.Pool, count: int, seed: int = 5, prefix: str = "ds") -> list[dict[str, Any]]:
    """Record `count` generated examples; every stored row (snake_case), by id."""
    rows = list(generate(count, seed=seed, prefix=prefix))
    for i in range(0, count, 1000):
        await examples_service.record(pool, new_examples(rows[i : i + 1000]))
    return await snapshot(pool)


async def snapshot(pool: asyncpg.Pool) -> list[dict[str, Any]]:
    return [dict(r) for r in await pool.fetch("SELECT * FROM example_rows ORDER BY id")]


def expected_split(seed: int, example_id: int, fraction: float) -> str:
    """Written out again here, independently of the server's SQL: md5("seed:id")[:8] / 2^32 < fraction."""
    value = int(hashlib.md5(f"{seed}:{example_id}".encode()).hexdigest()[:8], 16)
    return "VALIDATION" if value / 2**32 < fraction else "TRAIN"
