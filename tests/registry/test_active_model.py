"""The active model of a purpose against real PostgreSQL: every change kept, one-step rollback, refusals, fallbacks,
and concurrent changes that take turns without a gap."""

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


async def _model(pool: asyncpg.Pool, name: str, provider: Provider = Provider.OPENAI, **more: object) -> service.Model:
    new = NewModel(name=name, provider=provider, base_model="", provider_model_id=name, fine_tuned=False, **more)  # type: ignore[arg-type]
    return await service.register_by_hand(pool, new)


async def test_every_change_is_kept_and_rollback_returns_in_one_step(registry: asyncpg.Pool) -> None:
    a, b, c = [await _model(registry, n) for n in ("gpt-a", "gpt-b", "gpt-c")]
    assert await service.active(registry, SETTINGS) is None
    await service.set_active(registry, SETTINGS, str(a.id), "orchestrator", "first", "alice")
    await service.set_active(registry, SETTINGS, str(b.id), "orchestrator", "better in benchmarks", "bob")
    same = await service.set_active(registry, SETTINGS, str(b.id), "orchestrator", "again", "bob")
    assert same.model.id == b.id, "setting the active model again changes nothing"
    now = await service.set_active(registry, SETTINGS, str(c.id), "orchestrator", None, "carol")
    assert (now.model.id, [f.id for f in now.fallbacks]) == (c.id, [b.id])
    back = await service.rollback(registry, SETTINGS, "orchestrator", "c misbehaves", "dave")
    assert back.model.id == b.id
    history = await service.history(registry, "orchestrator", 20)
    assert [(h.model_id, h.previous_model_id, h.changed_by, h.reason, h.rollback_of is not None) for h in history] == [
        (b.id, c.id, "dave", "c misbehaves", True),
        (c.id, b.id, "carol", None, False),
        (b.id, a.id, "bob", "better in benchmarks", False),
        (a.id, None, "alice", "first", False),
    ]
    assert history[0].rollback_of == history[1].id
    again = await service.rollback(registry, SETTINGS, "orchestrator", None, "dave")  # undoes the rollback
    assert again.model.id == c.id
    other = await service.active(registry, SETTINGS, "summaries")
    assert other is None, "purposes are separate"


async def test_refusals_say_why(registry: asyncpg.Pool) -> None:
    a = await _model(registry, "gpt-a")
    old = await _model(registry, "gpt-old", shutdown_at=date(2026, 11, 1))
    with pytest.raises(ConflictError, match="nothing to roll back"):
        await service.rollback(registry, SETTINGS, "orchestrator", None, "x")
    await service.set_active(registry, SETTINGS, str(a.id), "orchestrator", None, "x")
    with pytest.raises(ConflictError, match="its first one: there is no earlier one"):
        await service.rollback(registry, SETTINGS, "orchestrator", None, "x")
    with pytest.raises(ConflictError, match=r"shut down by OPENAI on 2026-11-01"):
        await service.set_active(registry, SETTINGS, str(old.id), "orchestrator", None, "x")
    retired = await service.retire(registry, str(a.id))
    assert retired.retired_at is not None
    b = await _model(registry, "gpt-b")
    await service.set_active(registry, SETTINGS, str(b.id), "orchestrator", None, "x")
    with pytest.raises(ConflictError, match="is retired: it cannot be made active"):
        await service.rollback(registry, SETTINGS, "orchestrator", None, "x")
    with pytest.raises(ConflictError, match="is retired"):
        await service.set_active(registry, SETTINGS, str(a.id), "orchestrator", None, "x")
    with pytest.raises(ValidationError, match="purpose: must be 1 to 100"):
        await service.set_active(registry, SETTINGS, str(b.id), "  ", None, "x")
    with pytest.raises(ConflictError, match="registered already"):
        await _model(registry, "gpt-b")
    assert [m.id for m in await service.listed(registry, None, False)] == [b.id, old.id]  # retired ones hidden


async def test_a_model_on_a_provider_base_that_shuts_down_shows_that_date(registry: asyncpg.Pool) -> None:
    mini = await _model(registry, "gpt-4.1-mini-2025-04-14")
    assert mini.shutdown_at == date(2027, 1, 14)  # from the provider table
    late = Settings(today=date(2027, 1, 14))
    with pytest.raises(ConflictError, match="shut down by OPENAI on 2027-01-14"):
        await service.set_active(registry, late, str(mini.id), "orchestrator", None, "x")


async def test_a_fine_tuned_model_falls_back_to_its_base(registry: asyncpg.Pool) -> None:
    tuned = await service.register(registry, NewModel(
        name="planner", provider=Provider.OPENAI, base_model="gpt-4.1-nano-2025-04-14",
        provider_model_id="ft:gpt-4.1-nano-2025-04-14:org:planner:1", fine_tuned=True,
    ))  # fmt: skip
    found = await service.set_active(registry, SETTINGS, str(tuned.id), "orchestrator", None, "x")
    (base,) = found.fallbacks
    assert (base.provider_model_id, base.fine_tuned, base.provider) == (
        "gpt-4.1-nano-2025-04-14",
        False,
        Provider.OPENAI,
    )


async def test_concurrent_changes_take_turns_and_leave_no_gap(registry: asyncpg.Pool) -> None:
    models = [await _model(registry, f"m{i}") for i in range(6)]
    calls = [service.set_active(registry, SETTINGS, str(models[i % 6].id), "orchestrator", f"call {i}", "x")
             for i in range(40)]  # fmt: skip
    calls += [service.rollback(registry, SETTINGS, "orchestrator", "undo", "y") for _ in range(10)]
    outcomes = await asyncio.gather(*calls, return_exceptions=True)
    unexpected = [o for o in outcomes if isinstance(o, Exception) and not isinstance(o, ConflictError)]
    assert unexpected == []
    history = list(reversed(await service.history(registry, "orchestrator", 500)))
    assert history, "some changes were made"
    for before, after in itertools.pairwise(history):
        assert after.previous_model_id == before.model_id, "each change replaces the one before it: no gap"
        assert after.model_id != before.model_id
    current = await service.active(registry, SETTINGS)
    assert current is not None and current.model.id == history[-1].model_id
