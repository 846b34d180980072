"""Shared by the concurrency tests: a pool for many in-process clients, examples to race with, and sync points."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import asyncpg
import pytest

from tests.support.datasets import DATASET_TABLES
from tuneyard.core.db import create_pool
from tuneyard.examples.models import NewExample

CLIENTS = 12


@asynccontextmanager
async def clients_pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    """A pool with a connection for each of CLIENTS concurrent clients (and two spare), on emptied tables."""
    pool = await create_pool(database_url, max_size=CLIENTS + 2)
    await pool.execute(DATASET_TABLES)
    try:
        yield pool
    finally:
        await pool.close()


def example(
    execution_id: str, *, score: float | None = 0.5, tags: list[str] | None = None, created_at: datetime | None = None
) -> NewExample:
    return NewExample(
        execution_id=execution_id, user_request=f"Write a post about {execution_id}", intent="publish",
        platform="linkedin", business_state={"followers": 1200}, quality_score=score, tags=tags, created_at=created_at,
    )  # fmt: skip


def retries(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The transactions the server had to run again (each logged by tuneyard.core.db.transact)."""
    return [r.getMessage() for r in caplog.records if r.name == "tuneyard.core.db"]


async def rows(pool: asyncpg.Pool, execution_ids: list[str] | None = None) -> dict[str, dict[str, Any]]:
    """Every stored example (or those named), by executionId."""
    found = await pool.fetch(
        "SELECT * FROM example_rows WHERE $1::text[] IS NULL OR execution_id = ANY($1)", execution_ids
    )
    return {r["execution_id"]: dict(r) for r in found}


async def until_a_writer_waits(pool: asyncpg.Pool) -> None:
    """Return once a backend of this database waits for a lock: a sync point, not a timer."""
    for _ in range(2000):
        waiting = await pool.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        if waiting:
            return
        await asyncio.sleep(0.005)
    raise AssertionError("no writer started waiting for a lock")
