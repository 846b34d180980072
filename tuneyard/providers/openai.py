"""OpenAI fine-tuning and inference through the official SDK (`openai.AsyncOpenAI`), one client per call:

- upload: `files.create(file=Path, purpose="fine-tune")` for the training and validation files;
- find: `fine_tuning.jobs.list(metadata={"tuneyard_job": marker}, limit=...)`, first page only;
- start: `fine_tuning.jobs.create(model, training_file, validation_file, method={"type": "supervised", ...},
  metadata, suffix, seed)`;
- poll: `fine_tuning.jobs.retrieve`, then `fine_tuning.jobs.list_events` (newest first) down to the cursor, and
  `fine_tuning.jobs.checkpoints.list` when a job succeeds without having reported metrics;
- cancel: `fine_tuning.jobs.cancel`;
- complete: `chat.completions.create(model, messages=[system, user], max_completion_tokens, temperature=0)`
  (`max_tokens` is deprecated, and refused by reasoning models).

The SDK retries rate limits, 5xx and lost connections itself (MAX_RETRIES); what still fails becomes a ProviderError.
"""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import openai
from openai.types.fine_tuning import FineTuningJobEvent, job_create_params

from tuneyard.core.config import Settings
from tuneyard.providers import catalog
from tuneyard.providers.base import FineTuner, ProviderError, redact
from tuneyard.providers.models import (
    Completion,
    FineTuneRequest,
    PollResult,
    ProviderEvent,
    ProviderState,
    TrainingFiles,
    TrainingMetric,
    UploadedFiles,
)

MARKER_KEY = "tuneyard_job"  # the job metadata key find() filters on
MAX_RETRIES = 2  # the SDK's own, with backoff; longer outages wait for the fine-tune's next poll
MAX_EVENTS = 1000  # new events taken per poll: after a long gap, the newest ones
SUFFIX = re.compile(r"[A-Za-z0-9_-]{1,64}")  # it becomes part of the model name "ft:<base>:<org>:<suffix>:<id>"

STATES = {
    "validating_files": ProviderState.QUEUED,
    "queued": ProviderState.QUEUED,
    "running": ProviderState.RUNNING,
    "succeeded": ProviderState.SUCCEEDED,
    "failed": ProviderState.FAILED,
    "cancelled": ProviderState.CANCELLED,
}


class OpenAIFineTuner(FineTuner):
    facts = catalog.OPENAI
    extra_keys = frozenset({"suffix", "seed"})

    def missing_settings(self, settings: Settings) -> list[str]:
        key = settings.openai_api_key
        return [] if key is not None and key.get_secret_value() else ["set TUNEYARD_OPENAI_API_KEY"]

    def check_extra(self, request: FineTuneRequest) -> list[str]:
        problems = []
        extra = request.extra
        suffix = extra.get("suffix")
        if suffix is not None and not (isinstance(suffix, str) and SUFFIX.fullmatch(suffix)):
            problems.append("input.extra.suffix: must be 1 to 64 letters, digits, '-' or '_'")
        seed = extra.get("seed")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            problems.append(f"input.extra.seed: must be an integer, got {seed!r}")
        return problems

    async def upload(self, settings: Settings, files: TrainingFiles, marker: str) -> UploadedFiles:
        async with _client(settings) as client:
            train = await client.files.create(file=Path(files.train), purpose="fine-tune")
            validation = None
            if files.validation is not None:
                validation = await client.files.create(file=Path(files.validation), purpose="fine-tune")
        return UploadedFiles(train.id, validation.id if validation else None)

    async def find(self, settings: Settings, marker: str) -> str | None:
        """The first page is enough: a lost start is recent. The marker is checked here too, so that a listing that
        ignored the filter can never hand back another fine-tune's job."""
        async with _client(settings) as client:
            page = await client.fine_tuning.jobs.list(metadata={MARKER_KEY: marker}, limit=20)
        return next((job.id for job in page.data if (job.metadata or {}).get(MARKER_KEY) == marker), None)

    async def start(self, settings: Settings, request: FineTuneRequest, files: UploadedFiles, marker: str) -> str:
        # Omitted hyperparameters are not sent: OpenAI picks them ("auto").
        given = {"n_epochs": request.epochs, "learning_rate_multiplier": request.learning_rate,
                 "batch_size": request.batch_size}  # fmt: skip
        hyperparameters = {name: value for name, value in given.items() if value is not None}
        method = cast(
            job_create_params.Method, {"type": "supervised", "supervised": {"hyperparameters": hyperparameters}}
        )
        async with _client(settings) as client:
            job = await client.fine_tuning.jobs.create(
                model=request.base_model,
                training_file=files.train,
                validation_file=files.validation if files.validation is not None else openai.omit,
                method=method,
                metadata={MARKER_KEY: marker},
                suffix=request.extra.get("suffix", openai.omit),
                seed=request.extra.get("seed", openai.omit),
            )
        return job.id

    async def poll(self, settings: Settings, job_id: str, cursor: dict[str, Any]) -> PollResult:
        """The cursor holds the newest event seen ("event") and the highest metric step reported ("step")."""
        async with _client(settings) as client:
            job = await client.fine_tuning.jobs.retrieve(job_id)  # before the events, so none after its end is missed
            state = STATES.get(job.status, ProviderState.RUNNING)  # a status newer than this module: keep polling
            events = [(event, _metric(event)) for event in await _events_since(client, job_id, cursor.get("event"))]
            metrics = sorted((metric for _, metric in events if metric), key=lambda metric: metric.step)
            if state is ProviderState.SUCCEEDED and not metrics and cursor.get("step") is None:
                metrics = await _checkpoint_metrics(client, job_id)
        messages = [
            ProviderEvent(datetime.fromtimestamp(event.created_at, UTC), redact(event.message, settings))
            for event, metric in events
            if metric is None
        ]
        progress = 1.0 if state is ProviderState.SUCCEEDED else None
        if progress is None and metrics and metrics[-1].total_steps:
            progress = metrics[-1].step / metrics[-1].total_steps
        error = None
        if state is ProviderState.FAILED:
            error = redact(
                f"{job.error.message} ({job.error.code})" if job.error else "failed, no reason given", settings
            )
        return PollResult(
            state=state,
            provider_status=job.status,
            cursor={
                "event": events[-1][0].id if events else cursor.get("event"),
                "step": metrics[-1].step if metrics else cursor.get("step"),
            },
            events=messages,
            metrics=metrics,
            progress=progress,
            model_id=job.fine_tuned_model if state is ProviderState.SUCCEEDED else None,
            error=error,
            trained_tokens=job.trained_tokens,
        )

    async def cancel(self, settings: Settings, job_id: str) -> None:
        async with _client(settings) as client:
            try:
                await client.fine_tuning.jobs.cancel(job_id)
            except (openai.BadRequestError, openai.ConflictError):
                # OpenAI refuses to cancel a job that has ended; anything else refused is an error.
                job = await client.fine_tuning.jobs.retrieve(job_id)
                if not STATES.get(job.status, ProviderState.RUNNING).final:
                    raise

    async def complete(self, settings: Settings, model: str, system: str, user: str, max_tokens: int) -> Completion:
        started = time.perf_counter()
        async with _client(settings) as client:
            response = await client.chat.completions.create(
                model=model,
                messages=[{"role": "system", "content": system}, {"role": "user", "content": user}],
                max_completion_tokens=max_tokens,
                temperature=0,
            )
        message, usage = response.choices[0].message, response.usage
        return Completion(
            text=message.content or message.refusal or "",  # a refusal comes apart from the content
            input_tokens=usage.prompt_tokens if usage else None,
            output_tokens=usage.completion_tokens if usage else None,  # reasoning tokens included, as billed
            seconds=time.perf_counter() - started,
        )


@asynccontextmanager
async def _client(settings: Settings) -> AsyncIterator[openai.AsyncOpenAI]:
    """A client for one call; the SDK's errors raised inside become ProviderErrors."""
    api_key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else ""
    if not api_key:
        raise ProviderError("OpenAI is not configured: set TUNEYARD_OPENAI_API_KEY")
    client = openai.AsyncOpenAI(api_key=api_key, base_url=settings.openai_base_url, max_retries=MAX_RETRIES)
    try:
        async with client:
            yield client
    except openai.APIError as exc:
        # Not chained: the SDK's own message quotes the response body, which may echo the key.
        raise _provider_error(exc, settings) from None


def _provider_error(exc: openai.APIError, settings: Settings) -> ProviderError:
    if isinstance(exc, openai.APIStatusError):
        body = exc.body if isinstance(exc.body, dict) else {}
        detail = body.get("message") or exc.message
        retryable = isinstance(exc, openai.RateLimitError | openai.InternalServerError)
        return ProviderError(redact(f"OpenAI refused: {exc.status_code} {detail}", settings), retryable)
    retryable = isinstance(exc, openai.APIConnectionError)  # APITimeoutError is one too
    return ProviderError(redact(f"OpenAI call failed: {exc.message}", settings), retryable)


async def _events_since(client: openai.AsyncOpenAI, job_id: str, seen: str | None) -> list[FineTuningJobEvent]:
    """The job's events newer than `seen` (all of them at first), oldest first, at most MAX_EVENTS."""
    events: list[FineTuningJobEvent] = []
    async for event in client.fine_tuning.jobs.list_events(job_id, limit=100):  # newest first, paged with `after`
        if event.id == seen or len(events) == MAX_EVENTS:
            break
        events.append(event)
    return events[::-1]


def _metric(event: FineTuningJobEvent) -> TrainingMetric | None:
    """A "metrics" event's data: {"step": 3, "train_loss": 1.2, "valid_loss": 1.4, "total_steps": 30, ...}."""
    data = event.data
    if event.type != "metrics" or not isinstance(data, dict) or not isinstance(data.get("step"), int | float):
        return None
    total = data.get("total_steps")
    return TrainingMetric(
        step=int(data["step"]),
        train_loss=_number(data.get("train_loss")),
        valid_loss=_number(data.get("valid_loss")),
        total_steps=int(total) if isinstance(total, int | float) else None,
    )


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


async def _checkpoint_metrics(client: openai.AsyncOpenAI, job_id: str) -> list[TrainingMetric]:
    """A job that reported no metrics events still has the metrics of its checkpoints (the last epochs)."""
    page = await client.fine_tuning.jobs.checkpoints.list(job_id, limit=10)
    return sorted(
        (
            TrainingMetric(step=c.step_number, train_loss=c.metrics.train_loss, valid_loss=c.metrics.valid_loss)
            for c in page.data
        ),
        key=lambda m: m.step,
    )
