"""A database of known examples for filter tests, queried from synchronous code (hypothesis) on a loop of its own."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

import asyncpg

from tests.support.datasets import new_examples
from tuneyard.core.db import create_pool
from tuneyard.examples import service as examples_service
from tuneyard.examples.filter_sql import compile_filter


class FilterDatabase:
    """Examples recorded from inputs the test keeps, so expectations come from those inputs, never from a read-back."""

    def __init__(self, url: str) -> None:
        self.loop = asyncio.new_event_loop()
        self.pool: asyncpg.Pool = self.loop.run_until_complete(create_pool(url, max_size=2))
        self.id_of: dict[str, int] = {}

    def run(self, coroutine: Any) -> Any:
        return self.loop.run_until_complete(coroutine)

    def load(self, inputs: list[dict[str, Any]], archived: set[str]) -> None:
        """Record the inputs (GraphQL ExampleInput shape), archive some by executionId, learn the ids given."""
        self.run(self.pool.execute("TRUNCATE examples RESTART IDENTITY CASCADE"))
        for start in range(0, len(inputs), 1000):
            self.run(examples_service.record(self.pool, new_examples(inputs[start : start + 1000])))
        self.run(self.pool.execute("UPDATE examples SET archived = true WHERE execution_id = ANY($1)", list(archived)))
        rows = self.run(self.pool.fetch("SELECT id, execution_id FROM examples"))
        self.id_of = {r["execution_id"]: r["id"] for r in rows}

    def matching(self, spec: dict[str, Any] | None, *, archived_default: bool = False) -> set[str]:
        """The executionIds the compiled filter selects."""
        where = compile_filter(spec, archived_default=archived_default)
        sql = f"SELECT e.execution_id FROM examples e WHERE {where.sql}"
        return {r["execution_id"] for r in self.run(self.pool.fetch(sql, *where.params))}

    def summary_count(self, spec: dict[str, Any] | None) -> int | None:
        """The examples the example summary counts for the filter, or None where it cannot answer it."""
        where = examples_service.compile_filter(spec)
        if where.summary is None:
            return None
        counted = self.run(examples_service.count(self.pool, where))
        assert counted.exact
        found: int = counted.value
        return found

    def close(self) -> None:
        self.run(self.pool.close())
        self.loop.close()


def oracle_row(example: dict[str, Any], example_id: int, archived: bool) -> dict[str, Any]:
    """An input example as tests.support.oracle.matches reads a row (snake_case), built from the input alone."""
    return {
        "id": example_id, "execution_id": example["executionId"], "user_request": example["userRequest"],
        "intent": example.get("intent"), "platform": example.get("platform"), "model_id": example.get("modelId"),
        "quality_score": example.get("qualityScore"), "success": example.get("success"),
        "created_at": datetime.fromisoformat(example["createdAt"]), "tags": sorted(set(example.get("tags") or [])),
        "archived": archived,
    }  # fmt: skip
