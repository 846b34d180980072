"""SQL for registered models."""

from __future__ import annotations

import asyncpg

from tuneyard.core.db import Executor
from tuneyard.providers.models import Provider
from tuneyard.registry.models import Model, ModelStatus, NewModel

_COLUMNS = (
    "id, name, provider, base_model, provider_model_id, fine_tuned, dataset_id, job_id, hyperparameters, metrics, "
    "status, shutdown_at, created_at"
)


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


async def of_job(conn: Executor, job_id: int) -> Model | None:
    row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM models WHERE job_id = $1", job_id)
    return None if row is None else _model(row)


async def listed(conn: Executor, provider: Provider | None, include_retired: bool) -> list[Model]:
    rows = await conn.fetch(
        f"""SELECT {_COLUMNS} FROM models
            WHERE ($1::text IS NULL OR provider = $1) AND ($2 OR status = 'READY')
            ORDER BY id DESC""",
        None if provider is None else provider.value, include_retired,
    )  # fmt: skip
    return [_model(r) for r in rows]
