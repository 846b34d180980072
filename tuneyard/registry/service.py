"""Registry use cases: register and retire models, the active model of each purpose (every change kept, one-step
rollback, a fallback chain), and benchmarks of models on a dataset version's validation split (a BENCHMARK job)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from tuneyard.core.config import Settings
from tuneyard.core.db import Connection, transact
from tuneyard.core.errors import ConflictError, NotFoundError, ValidationError
from tuneyard.core.ids import parse_id
from tuneyard.datasets import service as datasets
from tuneyard.datasets.exports import service as exports
from tuneyard.datasets.models import Split
from tuneyard.jobs.models import Job, JobKind, JobModel, JobType
from tuneyard.jobs.service import JobRun, create_and_enqueue
from tuneyard.providers import service as providers
from tuneyard.providers.models import Provider
from tuneyard.registry import repository as repo
from tuneyard.registry.models import (
    DEFAULT_PURPOSE,
    ActiveModelChange,
    BenchmarkResult,
    Model,
    ModelStatus,
    NewModel,
    check_purpose,
    check_reason,
    shut_down,
)
from tuneyard.registry.scoring import Score, Summary, score, summarize

__all__ = [
    "BENCHMARK_JOB", "DEFAULT_PURPOSE", "Active", "Model", "ModelStatus", "NewModel", "active", "benchmarks",
    "changes_using", "get", "history", "listed", "register", "register_by_hand", "retire", "rollback",
    "run_benchmark", "set_active", "start_benchmark",
]  # fmt: skip

MAX_BENCHMARK_MODELS = 10
MAX_BENCHMARK_EXAMPLES = 5_000
ANSWER_TOKENS = 512  # the longest answer a benchmark asks for
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
    created = await repo.register_by_hand(pool, new)
    if created is None:
        existing = await repo.registered(pool, new.provider, model_id)
        raise ConflictError(
            f"{new.provider.value} model {model_id!r} is registered already (model {existing and existing.id})"
        )
    return _facts_shutdown(created)


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
    retired = await repo.retire(pool, parse_id(model_id, "model"))
    if retired is None:
        raise NotFoundError(f"no model with id {model_id!r}")
    return _facts_shutdown(retired)


def _usable(model: Model, settings: Settings) -> None:
    """CONFLICT, saying why, for a model that cannot be made active."""
    if model.status is ModelStatus.RETIRED:
        raise ConflictError(f"model {model.id} ({model.name}) is retired: it cannot be made active")
    if shut_down(model, settings.current_date()):
        raise ConflictError(f"model {model.id} ({model.name}) was shut down by {model.provider.value} on "
                            f"{model.shutdown_at}: it cannot be made active")  # fmt: skip


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
    if previous is not None and previous.id != model.id and _is_usable(previous, settings):
        fallbacks.append(previous)
    if model.fine_tuned:
        base = await repo.registered(pool, Provider.LOCAL if model.provider is Provider.OLLAMA else model.provider,
                                     model.base_model)  # fmt: skip
        if (
            base is not None
            and base.id not in {f.id for f in fallbacks}
            and _is_usable(_facts_shutdown(base), settings)
        ):
            fallbacks.append(_facts_shutdown(base))
    return Active(purpose, model, fallbacks, change.at)


def _is_usable(model: Model, settings: Settings) -> bool:
    return model.status is ModelStatus.READY and not shut_down(model, settings.current_date())


async def set_active(
    pool: asyncpg.Pool, settings: Settings, model_id: str, purpose: str, reason: str | None, changed_by: str
) -> Active:
    """Make the model the purpose's active one, recording who, when, why and the one it replaces. Setting the
    model already active records nothing. Concurrent changes of one purpose take turns (no lost change)."""
    purpose, reason = check_purpose(purpose), check_reason(reason)
    model = await require(pool, model_id)
    _usable(model, settings)

    async def change(conn: Connection) -> None:
        await repo.lock_purpose(conn, purpose)
        current = await repo.current_change(conn, purpose)
        if current is None or current.model_id != model.id:
            previous = None if current is None else current.model_id
            await repo.add_change(conn, purpose, model.id, previous, reason, changed_by, None)

    await transact(pool, change)
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
        _usable(_facts_shutdown(previous), settings)
        await repo.add_change(conn, purpose, previous.id, current.model_id, reason, changed_by, current.id)

    await transact(pool, change)
    found = await active(pool, settings, purpose)
    assert found is not None
    return found


async def history(pool: asyncpg.Pool, purpose: str, first: int) -> list[ActiveModelChange]:
    if not 0 <= first <= 500:
        raise ValidationError(f"first: must be between 0 and 500, got {first}")
    return await repo.history(pool, check_purpose(purpose), first)


async def changes_using(pool: asyncpg.Pool, model_id: int) -> list[ActiveModelChange]:
    return await repo.changes_using(pool, model_id)


async def benchmarks(pool: asyncpg.Pool, dataset_id: str | None, model_ids: list[str] | None) -> list[BenchmarkResult]:
    """The latest benchmark of each model on each version, best exact-match first within a version."""
    dataset = None if dataset_id is None else parse_id(dataset_id, "dataset")
    models = None if model_ids is None else [parse_id(m, "model") for m in model_ids]
    return await repo.benchmarks(pool, dataset, models)


class BenchmarkInput(JobModel):
    model_ids: list[str]
    dataset_id: str
    limit: int


class ModelFigures(JobModel):
    model_id: str
    name: str
    done: int
    failures: int
    json_valid_rate: float
    plan_exact_match: float
    step_f1: float
    latency_p50_ms: float
    latency_p95_ms: float
    input_tokens: int
    output_tokens: int
    cost_usd: float | None


class BenchmarkOutcome(JobModel):
    dataset_id: str
    examples: int
    models: list[ModelFigures]  # as far as each got (partial while the job runs)


BENCHMARK_JOB = JobType(
    JobKind.BENCHMARK, actor="benchmark.run", queue="benchmark", input=BenchmarkInput, result=BenchmarkOutcome
)


async def start_benchmark(
    pool: asyncpg.Pool, model_ids: list[str], dataset_id: str, limit: int | None, created_by: str
) -> Job:
    """Start a BENCHMARK job: each model answers the version's validation requests (the first `limit`)."""
    if not 1 <= len(model_ids) <= MAX_BENCHMARK_MODELS:
        raise ValidationError(f"modelIds: give 1 to {MAX_BENCHMARK_MODELS} models, got {len(model_ids)}")
    if limit is not None and not 1 <= limit <= MAX_BENCHMARK_EXAMPLES:
        raise ValidationError(f"limit: must be between 1 and {MAX_BENCHMARK_EXAMPLES}, got {limit}")
    models = [await require(pool, m) for m in dict.fromkeys(model_ids)]
    dataset = await datasets.require(pool, dataset_id)
    if dataset.validation_count == 0:
        raise ValidationError(f"dataset {dataset.name} v{dataset.version} has no validation split to benchmark on "
                              "(create a version with validationFraction above 0)")  # fmt: skip
    count = min(dataset.validation_count, limit or MAX_BENCHMARK_EXAMPLES)
    job_input = BenchmarkInput(model_ids=[str(m.id) for m in models], dataset_id=str(dataset.id), limit=count)
    return await create_and_enqueue(pool, BENCHMARK_JOB, job_input, created_by=created_by)


async def run_benchmark(run: JobRun[BenchmarkInput, BenchmarkOutcome]) -> BenchmarkOutcome:
    """The BENCHMARK job's work: every model on every example, scored (scoring.py), stored per model as it ends.
    A provider error on one example is a failure of that example. A retry skips the models already stored."""
    dataset = await datasets.require(run.pool, run.input.dataset_id)
    texts = await exports.split_texts(run.pool, dataset, Split.VALIDATION, run.input.limit)
    finished: list[str] = list((run.checkpoint or {}).get("finished", []))
    figures = {f.model_id: f for f in (run.result.models if run.result else [])}
    total = len(texts) * len(run.input.model_ids)
    for position, model_id in enumerate(run.input.model_ids):
        if model_id in finished:
            continue
        model = await require(run.pool, model_id)
        module = providers.module(model.provider)
        prices = next((m for m in module.facts.base_models if m.name == model.base_model), None)
        input_price, output_price = (None, None) if prices is None else (prices.input_price, prices.output_price)
        scores: list[Score] = []
        for text in texts:
            await run.check_cancelled()
            try:
                answer = await module.complete(run.settings, model.provider_model_id, text.system, text.user,
                                               ANSWER_TOKENS)  # fmt: skip
            except providers.ProviderError:
                scores.append(score(None, text.assistant or None, None, (0, 0)))
            else:
                tokens = (answer.input_tokens or 0, answer.output_tokens or 0)
                scores.append(score(answer.text, text.assistant or None, answer.seconds, tokens))
            summary = summarize(scores, input_price, output_price)
            figures[model_id] = _figures(model, summary)
            run.result = BenchmarkOutcome(
                dataset_id=str(dataset.id), examples=len(texts), models=list(figures.values())
            )
            done = position * len(texts) + len(scores)
            await run.progress(done / total, f"{model.name}: {len(scores)}/{len(texts)}, exact match "
                                             f"{summary.plan_exact_match:.0%}, {summary.failures} failed")  # fmt: skip
        await repo.save_benchmark(run.pool, model.id, dataset.id, run.id, summarize(scores, input_price, output_price))
        finished.append(model_id)
        await run.save_checkpoint({"finished": finished})
    assert run.result is not None
    return run.result


def _figures(model: Model, summary: Summary) -> ModelFigures:
    return ModelFigures(
        model_id=str(model.id), name=model.name, done=summary.example_count, failures=summary.failures,
        json_valid_rate=summary.json_valid_rate, plan_exact_match=summary.plan_exact_match, step_f1=summary.step_f1,
        latency_p50_ms=summary.latency_p50_ms, latency_p95_ms=summary.latency_p95_ms,
        input_tokens=summary.input_tokens, output_tokens=summary.output_tokens, cost_usd=summary.cost_usd,
    )  # fmt: skip
