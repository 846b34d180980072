"""SQL for the registry: models, active-model changes, benchmark results."""

from __future__ import annotations

import asyncpg

from tuneyard.core.db import Connection, Executor
from tuneyard.providers.models import Provider
from tuneyard.registry.models import ActiveModelChange, BenchmarkResult, Model, ModelStatus, NewModel
from tuneyard.registry.scoring import Summary

_COLUMNS = (
    "id, name, provider, base_model, provider_model_id, fine_tuned, dataset_id, job_id, hyperparameters, metrics, "
    "status, shutdown_at, created_at, retired_at"
)
_CHANGE_COLUMNS = "id, purpose, model_id, previous_model_id, reason, changed_by, rollback_of, at"
_BENCHMARK_COLUMNS = (
    "id, model_id, dataset_id, job_id, example_count, failures, json_valid_rate, plan_exact_match, step_f1, "
    "latency_p50_ms, latency_p95_ms, input_tokens, output_tokens, cost_usd, created_at"
)
_PURPOSE_LOCK_CLASS = 0x414D  # "AM": changes of one purpose's active model, one at a time


def _model(row: asyncpg.Record) -> Model:
    values = dict(row.items())
    values["provider"] = Provider(values["provider"])
    values["status"] = ModelStatus(values["status"])
    return Model(**values)


async def insert(conn: Executor, new: NewModel) -> Model:
    """Register the model; a job's model is registered once (a second call returns the first registration)."""
    row = await conn.fetchrow(
        f"""WITH added AS (
               INSERT INTO models (name, provider, base_model, provider_model_id, fine_tuned, dataset_id, job_id,
                                   hyperparameters, metrics, shutdown_at)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
               ON CONFLICT (job_id) DO NOTHING
               RETURNING {_COLUMNS})
            SELECT * FROM added
            UNION ALL
            SELECT {_COLUMNS} FROM models WHERE job_id = $7 AND NOT EXISTS (SELECT FROM added)""",
        new.name, new.provider.value, new.base_model, new.provider_model_id, new.fine_tuned, new.dataset_id,
        new.job_id, new.hyperparameters, new.metrics, new.shutdown_at,
    )  # fmt: skip
    assert row is not None
    return _model(row)


async def get(conn: Executor, model_id: int) -> Model | None:
    row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM models WHERE id = $1", model_id)
    return None if row is None else _model(row)


async def listed(conn: Executor, provider: Provider | None, include_retired: bool) -> list[Model]:
    rows = await conn.fetch(
        f"""SELECT {_COLUMNS} FROM models
            WHERE ($1::text IS NULL OR provider = $1) AND ($2 OR status = 'READY')
            ORDER BY id DESC""",
        None if provider is None else provider.value, include_retired,
    )  # fmt: skip
    return [_model(r) for r in rows]


async def register_by_hand(conn: Executor, new: NewModel) -> Model | None:
    """Register a model that no job made; None when (provider, provider model id) is registered already."""
    row = await conn.fetchrow(
        f"""INSERT INTO models (name, provider, base_model, provider_model_id, fine_tuned, shutdown_at)
            VALUES ($1, $2, $3, $4, $5, $6)
            ON CONFLICT (provider, provider_model_id) WHERE job_id IS NULL DO NOTHING
            RETURNING {_COLUMNS}""",
        new.name, new.provider.value, new.base_model, new.provider_model_id, new.fine_tuned, new.shutdown_at,
    )  # fmt: skip
    return None if row is None else _model(row)


async def registered(conn: Executor, provider: Provider, provider_model_id: str) -> Model | None:
    """The model registered by hand under that provider model id."""
    row = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM models WHERE provider = $1 AND provider_model_id = $2 AND job_id IS NULL",
        provider.value, provider_model_id,
    )  # fmt: skip
    return None if row is None else _model(row)


async def retire(conn: Executor, model_id: int) -> Model | None:
    row = await conn.fetchrow(
        f"""UPDATE models SET status = 'RETIRED', retired_at = coalesce(retired_at, now()) WHERE id = $1
            RETURNING {_COLUMNS}""",
        model_id,
    )
    return None if row is None else _model(row)


async def many(conn: Executor, model_ids: list[int]) -> dict[int, Model]:
    rows = await conn.fetch(f"SELECT {_COLUMNS} FROM models WHERE id = ANY($1::bigint[])", model_ids)
    return {r["id"]: _model(r) for r in rows}


def _change(row: asyncpg.Record) -> ActiveModelChange:
    return ActiveModelChange(**dict(row.items()))


async def lock_purpose(conn: Connection, purpose: str) -> None:
    """Hold the purpose's lock until the transaction ends: its changes happen one at a time, without gaps."""
    await conn.execute("SELECT pg_advisory_xact_lock($1, hashtext($2))", _PURPOSE_LOCK_CLASS, purpose)


async def current_change(conn: Executor, purpose: str) -> ActiveModelChange | None:
    row = await conn.fetchrow(
        f"SELECT {_CHANGE_COLUMNS} FROM active_model_changes WHERE purpose = $1 ORDER BY id DESC LIMIT 1", purpose
    )
    return None if row is None else _change(row)


async def add_change(
    conn: Executor, purpose: str, model_id: int, previous_model_id: int | None, reason: str | None,
    changed_by: str, rollback_of: int | None,
) -> ActiveModelChange:  # fmt: skip
    row = await conn.fetchrow(
        f"""INSERT INTO active_model_changes (purpose, model_id, previous_model_id, reason, changed_by, rollback_of)
            VALUES ($1, $2, $3, $4, $5, $6) RETURNING {_CHANGE_COLUMNS}""",
        purpose, model_id, previous_model_id, reason, changed_by, rollback_of,
    )  # fmt: skip
    assert row is not None
    return _change(row)


async def history(conn: Executor, purpose: str, first: int) -> list[ActiveModelChange]:
    rows = await conn.fetch(
        f"SELECT {_CHANGE_COLUMNS} FROM active_model_changes WHERE purpose = $1 ORDER BY id DESC LIMIT $2",
        purpose, first,
    )  # fmt: skip
    return [_change(r) for r in rows]


async def changes_using(conn: Executor, model_id: int) -> list[ActiveModelChange]:
    """Every change that made the model active or replaced it, newest first (its lineage in production)."""
    rows = await conn.fetch(
        f"""SELECT {_CHANGE_COLUMNS} FROM active_model_changes WHERE model_id = $1 OR previous_model_id = $1
            ORDER BY id DESC""",
        model_id,
    )
    return [_change(r) for r in rows]


def _benchmark(row: asyncpg.Record) -> BenchmarkResult:
    return BenchmarkResult(**dict(row.items()))


async def save_benchmark(conn: Executor, model_id: int, dataset_id: int, job_id: int, summary: Summary) -> None:
    """Keep the latest benchmark of the model on the version."""
    await conn.execute(
        """INSERT INTO benchmark_results (model_id, dataset_id, job_id, example_count, failures, json_valid_rate,
                                          plan_exact_match, step_f1, latency_p50_ms, latency_p95_ms, input_tokens,
                                          output_tokens, cost_usd)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
           ON CONFLICT (model_id, dataset_id) DO UPDATE SET
             job_id = excluded.job_id, example_count = excluded.example_count, failures = excluded.failures,
             json_valid_rate = excluded.json_valid_rate, plan_exact_match = excluded.plan_exact_match,
             step_f1 = excluded.step_f1, latency_p50_ms = excluded.latency_p50_ms,
             latency_p95_ms = excluded.latency_p95_ms, input_tokens = excluded.input_tokens,
             output_tokens = excluded.output_tokens, cost_usd = excluded.cost_usd, created_at = now()""",
        model_id, dataset_id, job_id, summary.example_count, summary.failures, summary.json_valid_rate,
        summary.plan_exact_match, summary.step_f1, summary.latency_p50_ms, summary.latency_p95_ms,
        summary.input_tokens, summary.output_tokens, summary.cost_usd,
    )  # fmt: skip


async def benchmarks(conn: Executor, dataset_id: int | None, model_ids: list[int] | None) -> list[BenchmarkResult]:
    rows = await conn.fetch(
        f"""SELECT {_BENCHMARK_COLUMNS} FROM benchmark_results
            WHERE ($1::bigint IS NULL OR dataset_id = $1) AND ($2::bigint[] IS NULL OR model_id = ANY($2))
            ORDER BY dataset_id DESC, plan_exact_match DESC, model_id""",
        dataset_id, model_ids,
    )  # fmt: skip
    return [_benchmark(r) for r in rows]
