"""Registry use cases: register and retire models, and the active model of each purpose (every change kept,
one-step rollback, a fallback chain). Benchmarks are in benchmarks.py."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from tuneyard.core.config import Settings
from tuneyard.core.db import Connection, transact
from tuneyard.core.errors import ConflictError, NotFoundError, ValidationError
from tuneyard.core.ids import parse_id
from tuneyard.providers import service as providers
from tuneyard.providers.models import Provider
from tuneyard.registry import repository as repo
from tuneyard.registry.models import (
    DEFAULT_PURPOSE,
    ActiveModelChange,
    Model,
    ModelStatus,
    NewModel,
    check_purpose,
    check_reason,
    shut_down,
)

__all__ = [
    "DEFAULT_PURPOSE", "Active", "Model", "ModelStatus", "NewModel", "active", "changes_using", "get", "history",
    "listed", "register", "register_by_hand", "require", "retire", "rollback", "set_active",
]  # fmt: skip

MAX_NAME = 200


def _facts_shutdown(model: Model) -> Model:
    """The model with its provider's shutdown date for its base model when none was recorded for it."""
    if model.shutdown_at is not None:
        return model
    base = next((m for m in providers.module(model.provider).facts.base_models if m.name == model.base_model), None)
    return (
        model if base is None or base.shutdown_at is None else dataclasses.replace(model, shutdown_at=base.shutdown_at)
    )


async def register(pool: asyncpg.Pool, new: NewModel) -> Model:
    """Register a fine-tune's model (once per job) and make sure its base model is registered too (a fallback)."""
    base_provider = Provider.LOCAL if new.provider is Provider.OLLAMA else new.provider
    base = NewModel(name=new.base_model, provider=base_provider, base_model=new.base_model,
                    provider_model_id=new.base_model, fine_tuned=False, shutdown_at=None)  # fmt: skip
    await repo.register_by_hand(pool, base)  # nothing when it is registered already
    return _facts_shutdown(await repo.insert(pool, new))


async def register_by_hand(pool: asyncpg.Pool, new: NewModel) -> Model:
    """registerModel: a base or external model (an OpenAI base model, an Ollama tag, a Claude model)."""
    name, model_id = new.name.strip(), new.provider_model_id.strip()
    if not 1 <= len(name) <= MAX_NAME:
        raise ValidationError(f"input.name: must be 1 to {MAX_NAME} characters and not blank")
    if not 1 <= len(model_id) <= 500:
        raise ValidationError("input.providerModelId: must be 1 to 500 characters and not blank")
    base = (new.base_model or "").strip() or model_id
    new = dataclasses.replace(new, name=name, provider_model_id=model_id, base_model=base)

    async def work(conn: Connection) -> Model:
        created = await repo.register_by_hand(conn, new)
        if created is None:
            existing = await repo.registered(conn, new.provider, model_id)
            raise ConflictError(
                f"{new.provider.value} model {model_id!r} is registered already (model {existing and existing.id})"
            )
        return created

    return _facts_shutdown(await transact(pool, work, affected=lambda _: 1))


async def get(pool: asyncpg.Pool, model_id: str | int) -> Model | None:
    found = await repo.get(pool, parse_id(model_id, "model"))
    return None if found is None else _facts_shutdown(found)


async def require(pool: asyncpg.Pool, model_id: str | int) -> Model:
    found = await get(pool, model_id)
    if found is None:
        raise NotFoundError(f"no model with id {model_id!r}")
    return found


async def listed(pool: asyncpg.Pool, provider: Provider | None, include_retired: bool) -> list[Model]:
    """Models newest first (READY only unless include_retired)."""
    return [_facts_shutdown(m) for m in await repo.listed(pool, provider, include_retired)]


async def retire(pool: asyncpg.Pool, model_id: str) -> Model:
    """Hide a model from new activation; it, its history and an activation in force stay."""
    number = parse_id(model_id, "model")

    async def work(conn: Connection) -> Model:
        retired = await repo.retire(conn, number)
        if retired is None:
            raise NotFoundError(f"no model with id {model_id!r}")
        return retired

    return _facts_shutdown(await transact(pool, work, affected=lambda _: 1))


def _unusable(model: Model, settings: Settings) -> str | None:
    """Why the model cannot be made active, or None when it can."""
    if model.status is ModelStatus.RETIRED:
        return f"model {model.id} ({model.name}) is retired: it cannot be made active"
    if shut_down(model, settings.current_date()):
        return (f"model {model.id} ({model.name}) was shut down by {model.provider.value} on {model.shutdown_at}: "
                "it cannot be made active")  # fmt: skip
    return None


def _require_usable(model: Model, settings: Settings) -> None:
    reason = _unusable(model, settings)
    if reason is not None:
        raise ConflictError(reason)


@dataclass(frozen=True, slots=True)
class Active:
    purpose: str
    model: Model
    fallbacks: list[Model]  # tried in order when the model is unavailable; ends with its base model when known
    since: datetime


async def active(pool: asyncpg.Pool, settings: Settings, purpose: str = DEFAULT_PURPOSE) -> Active | None:
    """The purpose's active model and its fallbacks: the model active before it (if still usable), then its base."""
    purpose = check_purpose(purpose)
    change = await repo.current_change(pool, purpose)
    if change is None:
        return None
    ids = [i for i in (change.model_id, change.previous_model_id) if i is not None]
    found = {i: _facts_shutdown(m) for i, m in (await repo.many(pool, ids)).items()}
    model = found[change.model_id]
    fallbacks: list[Model] = []
    previous = found.get(change.previous_model_id or 0)
    if previous is not None and previous.id != model.id and _unusable(previous, settings) is None:
        fallbacks.append(previous)
    if model.fine_tuned:
        base = await repo.registered(pool, Provider.LOCAL if model.provider is Provider.OLLAMA else model.provider,
                                     model.base_model)  # fmt: skip
        if (
            base is not None
            and base.id not in {f.id for f in fallbacks}
            and _unusable(_facts_shutdown(base), settings) is None
        ):
            fallbacks.append(_facts_shutdown(base))
    return Active(purpose, model, fallbacks, change.at)


async def set_active(
    pool: asyncpg.Pool, settings: Settings, model_id: str, purpose: str, reason: str | None, changed_by: str
) -> Active:
    """Make the model the purpose's active one, recording who, when, why and the one it replaces. Setting the
    model already active records nothing. Concurrent changes of one purpose take turns (no lost change)."""
    purpose, reason = check_purpose(purpose), check_reason(reason)
    model = await require(pool, model_id)
    _require_usable(model, settings)

    async def change(conn: Connection) -> int:
        await repo.lock_purpose(conn, purpose)
        current = await repo.current_change(conn, purpose)
        if current is not None and current.model_id == model.id:
            return 0
        previous = None if current is None else current.model_id
        await repo.add_change(conn, purpose, model.id, previous, reason, changed_by, None)
        return 1

    await transact(pool, change, affected=lambda changes: changes)
    found = await active(pool, settings, purpose)
    assert found is not None
    return found


async def rollback(pool: asyncpg.Pool, settings: Settings, purpose: str, reason: str | None, changed_by: str) -> Active:
    """Return the purpose to the model active before the current one, in one step (itself recorded)."""
    purpose, reason = check_purpose(purpose), check_reason(reason)

    async def change(conn: Connection) -> None:
        await repo.lock_purpose(conn, purpose)
        current = await repo.current_change(conn, purpose)
        if current is None:
            raise ConflictError(f"purpose {purpose!r} has no active model: there is nothing to roll back")
        if current.previous_model_id is None:
            raise ConflictError(
                f"the active model of {purpose!r} is its first one: there is no earlier one to return to"
            )
        previous = await repo.get(conn, current.previous_model_id)
        assert previous is not None
        _require_usable(_facts_shutdown(previous), settings)
        await repo.add_change(conn, purpose, previous.id, current.model_id, reason, changed_by, current.id)

    await transact(pool, change, affected=lambda _: 1)
    found = await active(pool, settings, purpose)
    assert found is not None
    return found


async def history(pool: asyncpg.Pool, purpose: str, first: int) -> list[ActiveModelChange]:
    if not 0 <= first <= 500:
        raise ValidationError(f"first: must be between 0 and 500, got {first}")
    return await repo.history(pool, check_purpose(purpose), first)


async def changes_using(pool: asyncpg.Pool, model_id: int) -> list[ActiveModelChange]:
    return await repo.changes_using(pool, model_id)
