"""Benchmarks: each model answers a dataset version's validation requests through its provider (a BENCHMARK job);
the answers are scored by scoring.py and each model's figures kept per version."""

from __future__ import annotations

import asyncpg

from tuneyard.core.errors import ValidationError
from tuneyard.core.ids import parse_id
from tuneyard.datasets import service as datasets
from tuneyard.datasets.exports import service as exports
from tuneyard.datasets.models import Split
from tuneyard.jobs.models import Job, JobKind, JobModel, JobType
from tuneyard.jobs.service import JobRun, create_and_enqueue
from tuneyard.providers import service as providers
from tuneyard.registry import repository as repo
from tuneyard.registry.models import BenchmarkResult, Model
from tuneyard.registry.scoring import Score, Summary, score, summarize
from tuneyard.registry.service import require

MAX_BENCHMARK_MODELS = 10
MAX_BENCHMARK_EXAMPLES = 5_000
ANSWER_TOKENS = 512  # the longest answer a benchmark asks for


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
        summary = summarize(scores, input_price, output_price)
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
        await repo.save_benchmark(run.pool, model.id, dataset.id, run.id, summary)  # the last example's summary
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
