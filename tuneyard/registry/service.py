"""Registry use cases: register a fine-tune's model, read models."""

from __future__ import annotations

import asyncpg

from tuneyard.core.ids import parse_id
from tuneyard.providers.models import Provider
from tuneyard.registry import repository as repo
from tuneyard.registry.models import Model, ModelStatus, NewModel

__all__ = ["Model", "ModelStatus", "NewModel", "get", "listed", "of_job", "register"]


async def register(pool: asyncpg.Pool, new: NewModel) -> Model:
    """Register a model; for a fine-tune's model (job_id set) at most once, however often its job ends."""
    return await repo.insert(pool, new)


async def get(pool: asyncpg.Pool, model_id: str | int) -> Model | None:
    return await repo.get(pool, parse_id(model_id, "model"))


async def of_job(pool: asyncpg.Pool, job_id: int) -> Model | None:
    return await repo.of_job(pool, job_id)


async def listed(pool: asyncpg.Pool, provider: Provider | None, include_retired: bool) -> list[Model]:
    """Models newest first (READY only unless include_retired)."""
    return await repo.listed(pool, provider, include_retired)
