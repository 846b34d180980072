"""The active-model history: its page bounds on both sides, a model's lineage, and rollbacks that take turns."""

from __future__ import annotations

import asyncio
import itertools
from datetime import date

import asyncpg
import pytest

from tuneyard.core.config import Settings
from tuneyard.core.errors import ConflictError, ValidationError
from tuneyard.providers.models import Provider
from tuneyard.registry import service
from tuneyard.registry.models import NewModel

SETTINGS = Settings(today=date(2026, 11, 30))


@pytest.fixture
async def registry(pool: asyncpg.Pool) -> asyncpg.Pool:
    await pool.execute("TRUNCATE active_model_changes, benchmark_results, models RESTART IDENTITY CASCADE")
    return pool


async def _model(pool: asyncpg.Pool, name: str) -> service.Model:
    new = NewModel(name=name, provider=Provider.OPENAI, base_model="", provider_model_id=name, fine_tuned=False)
    return await service.register_by_hand(pool, new)


async def test_history_pages_from_0_to_500_and_lineage(registry: asyncpg.Pool) -> None:
    a, b, c = [await _model(registry, n) for n in ("gpt-a", "gpt-b", "gpt-c")]
    for model in (a, b, c):
        await service.set_active(registry, SETTINGS, str(model.id), "orchestrator", None, "x")
    assert await service.history(registry, "orchestrator", 0) == []
    assert [h.model_id for h in await service.history(registry, "orchestrator", 1)] == [c.id]
    assert [h.model_id for h in await service.history(registry, "orchestrator", 500)] == [c.id, b.id, a.id]
    for bad in (-1, 501):
        with pytest.raises(ValidationError, match=f"^first: must be between 0 and 500, got {bad}$"):
            await service.history(registry, "orchestrator", bad)
    using_b = await service.changes_using(registry, b.id)
    assert [(h.model_id, h.previous_model_id) for h in using_b] == [(c.id, b.id), (b.id, a.id)]
    assert await service.changes_using(registry, 999) == []


async def test_concurrent_rollbacks_take_turns(registry: asyncpg.Pool) -> None:
    a, b = await _model(registry, "gpt-a"), await _model(registry, "gpt-b")
    await service.set_active(registry, SETTINGS, str(a.id), "orchestrator", None, "x")
    await service.set_active(registry, SETTINGS, str(b.id), "orchestrator", None, "x")
    outcomes = await asyncio.gather(
        *(service.rollback(registry, SETTINGS, "orchestrator", f"r{i}", "y") for i in range(12)), return_exceptions=True
    )
    assert [o for o in outcomes if isinstance(o, Exception) and not isinstance(o, ConflictError)] == []
    history = list(reversed(await service.history(registry, "orchestrator", 500)))
    assert len(history) == 14, "every rollback recorded once"
    for before, after in itertools.pairwise(history):
        assert (after.previous_model_id, after.model_id != before.model_id) == (before.model_id, True)
    assert [h.rollback_of for h in history[2:]] == [h.id for h in history[1:-1]], "each undoes the one before"


async def test_a_shut_down_model_is_refused_naming_it(registry: asyncpg.Pool) -> None:
    new = NewModel(name="gpt-old", provider=Provider.OPENAI, base_model="", provider_model_id="gpt-old",
                   fine_tuned=False, shutdown_at=date(2026, 11, 30))  # fmt: skip
    old = await service.register_by_hand(registry, new)
    message = f"^model {old.id} \\(gpt-old\\) was shut down by OPENAI on 2026-11-30: it cannot be made active$"
    with pytest.raises(ConflictError, match=message):
        await service.set_active(registry, SETTINGS, str(old.id), "orchestrator", None, "x")


async def test_a_base_is_a_fallback_once_and_only_while_usable(registry: asyncpg.Pool) -> None:
    base = await _model(registry, "gpt-4.1-nano-2025-04-14")
    tuned = await service.register(registry, NewModel(
        name="planner", provider=Provider.OPENAI, base_model="gpt-4.1-nano-2025-04-14",
        provider_model_id="ft:gpt-4.1-nano-2025-04-14:org:planner:1", fine_tuned=True,
    ))  # fmt: skip
    await service.set_active(registry, SETTINGS, str(base.id), "orchestrator", None, "x")
    found = await service.set_active(registry, SETTINGS, str(tuned.id), "orchestrator", None, "x")
    assert [f.id for f in found.fallbacks] == [base.id], "the model before it and its base: the same one, listed once"
    await service.retire(registry, str(base.id))
    current = await service.active(registry, SETTINGS)
    assert current is not None and current.model.id == tuned.id and current.fallbacks == []
