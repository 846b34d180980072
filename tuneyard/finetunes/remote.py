"""A fine-tune on a provider's service (OpenAI, Vertex): a small state machine kept in the job's checkpoint, so
that a retry or a redelivered message resumes where the last run stopped and never pays twice:
  1. training files: the version's export in the provider's format (written now if missing), uploaded;
  2. the provider's job: find() one made for this job's marker (a start whose answer was lost), else start();
     its id is saved as the checkpoint before anything else;
  3. polling: one poll per run, then a delayed message (ContinueLater) until the provider's job ends; events and
     training metrics go to the job's progress as they come; on success the model is registered.
cancelJob reaches the work at its next run (CANCELLING is due at once) and cancels the provider's job.
"""

from __future__ import annotations

from tuneyard.core.config import Settings
from tuneyard.datasets import service as datasets
from tuneyard.datasets.exports import service as exports
from tuneyard.finetunes.models import MAX_METRICS, FineTuneCheckpoint, FineTuneResult, Metric, UploadedNames
from tuneyard.finetunes.outcome import Run, Scaled, final_metrics, register
from tuneyard.jobs.service import ContinueLater, JobCancelled, JobFailed
from tuneyard.providers import service as providers
from tuneyard.providers.models import PollResult, ProviderState, TrainingFiles, UploadedFiles

EXPORTED = 0.05  # progress once the training files are written
UPLOADED = 0.1  # ... and uploaded; the provider's job takes the rest
MAX_FAILURES = 10  # retryable provider failures in a row before the job fails
MAX_BACKOFF_SECONDS = 600.0


async def run_remote(run: Run) -> FineTuneResult:
    """One step of the state machine above per run."""
    tuner = providers.fine_tuner(run.input.provider)
    state = FineTuneCheckpoint.model_validate(run.checkpoint or {})
    marker = run.input.marker
    resumed = run.checkpoint is not None
    try:
        await run.check_cancelled()
        if state.provider_job_id is None:
            state = await _launch(run, tuner, state, marker, resumed)
        return await _follow(run, tuner, state)
    except JobCancelled:
        await _cancel(run, tuner, state, marker)
        raise
    except providers.ProviderError as error:
        if not error.retryable or state.failures + 1 >= MAX_FAILURES:
            raise JobFailed(f"{run.input.provider.value}: {error.message}") from None
        state = state.model_copy(update={"failures": state.failures + 1})
        await run.save_checkpoint(state)
        delay = min(run.settings.fine_tune_poll_seconds * 2**state.failures, MAX_BACKOFF_SECONDS)
        raise ContinueLater(delay, f"{error.message}; trying again in {delay:g} s") from None


async def _cancel(run: Run, tuner: providers.FineTuner, state: FineTuneCheckpoint, marker: str) -> None:
    """Cancel the provider's job, if one was (or may have been) started; FAILED, saying so, if that fails."""
    job_id = state.provider_job_id
    try:
        if job_id is None and state.files is not None:
            job_id = await tuner.find(run.settings, marker)
        if job_id is not None:
            await tuner.cancel(run.settings, job_id)
    except providers.ProviderError as error:
        raise JobFailed(
            f"cancelled here, but {run.input.provider.value} did not confirm cancelling job {job_id or marker}: "
            f"{error.message}; it may still run and bill"
        ) from None


async def _launch(
    run: Run,
    tuner: providers.FineTuner,
    state: FineTuneCheckpoint,
    marker: str,
    resumed: bool,
) -> FineTuneCheckpoint:
    """Upload the training files (unless done), then find or start the provider's job; its id checkpointed."""
    settings, request = run.settings, run.input.request()
    if state.files is None:
        await run.progress(0.0, "preparing the training files")
        dataset = await datasets.require(run.pool, run.input.dataset_id)
        fmt = tuner.facts.export_format
        assert fmt is not None
        train, validation = await exports.training_files(
            run.pool, exports.export_store(settings), dataset, fmt, Scaled(run, 0.0, EXPORTED), job_id=str(run.id)
        )
        files = TrainingFiles(str(train), None if validation is None else str(validation), dataset.train_count,
                              dataset.validation_count)  # fmt: skip
        await run.progress(EXPORTED, "uploading the training files")
        uploaded = await tuner.upload(settings, files, marker)
        state = state.model_copy(update={"files": UploadedNames(train=uploaded.train, validation=uploaded.validation)})
        await run.save_checkpoint(state)  # from here on, a retry looks for a provider job before starting one
        await run.check_cancelled()
    else:
        assert resumed
    assert state.files is not None
    job_id = await tuner.find(settings, marker) if resumed else None
    if job_id is None:
        job_id = await tuner.start(settings, request, UploadedFiles(state.files.train, state.files.validation), marker)
    state = state.model_copy(update={"provider_job_id": job_id, "failures": 0})
    await run.save_checkpoint(state)
    run.result = _current(run).model_copy(update={"provider_job_id": job_id})
    await run.progress(UPLOADED, f"{run.input.provider.value} job {job_id} started")
    return state


def _current(run: Run) -> FineTuneResult:
    assert run.result is not None
    return run.result


async def _follow(run: Run, tuner: providers.FineTuner, state: FineTuneCheckpoint) -> FineTuneResult:
    """Poll the provider's job once: report what is new, then end with it or look again later."""
    assert state.provider_job_id is not None
    polled = await tuner.poll(run.settings, state.provider_job_id, state.cursor)
    result = _reported(_current(run), polled)
    run.result = result
    message = _message(polled, result, run.settings)
    if polled.state is ProviderState.SUCCEEDED:
        return await _succeeded(run, result, polled)
    if polled.state is ProviderState.FAILED:
        raise JobFailed(f"{run.input.provider.value} job {state.provider_job_id} failed: {message}")
    if polled.state is ProviderState.CANCELLED:
        raise JobFailed(f"{run.input.provider.value} job {state.provider_job_id} was cancelled at the provider")
    fraction = UPLOADED + (1 - UPLOADED) * 0.99 * (polled.progress or 0.0)
    await run.progress(fraction, message)
    await run.save_checkpoint(state.model_copy(update={"cursor": polled.cursor, "failures": 0}))
    raise ContinueLater(run.settings.fine_tune_poll_seconds, message)


def _reported(result: FineTuneResult, polled: PollResult) -> FineTuneResult:
    metrics = [*result.metrics, *(Metric.of(m) for m in polled.metrics)][-MAX_METRICS:]
    return result.model_copy(
        update={
            "provider_status": polled.provider_status, "metrics": metrics,
            "trained_tokens": polled.trained_tokens or result.trained_tokens,
        }
    )  # fmt: skip


def _message(polled: PollResult, result: FineTuneResult, settings: Settings) -> str:
    """What the job says now: the provider's state, its latest loss, its latest event (or its error)."""
    parts = [polled.provider_status]
    if result.metrics:
        parts.append(result.metrics[-1].describe())
    if polled.error:
        parts.append(polled.error)
    elif polled.events:
        parts.append(polled.events[-1].message)
    return providers.redact(" | ".join(parts), settings)


async def _succeeded(run: Run, result: FineTuneResult, polled: PollResult) -> FineTuneResult:
    if not polled.model_id:
        raise JobFailed(f"{run.input.provider.value} reported success without a model")
    job_input = run.input
    hyperparameters = {"epochs": job_input.epochs, "learningRate": job_input.learning_rate,
                       "batchSize": job_input.batch_size, **job_input.extra}  # fmt: skip
    metrics = final_metrics(result.metrics, result.trained_tokens)
    model = await register(run, job_input.provider, polled.model_id, hyperparameters, metrics)
    await run.progress(1.0, f"model {model.name} ({polled.model_id}) registered")
    return result.model_copy(update={"model_id": str(model.id), "provider_model_id": polled.model_id})
