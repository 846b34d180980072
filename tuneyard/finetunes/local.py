"""A LOCAL fine-tune: LoRA training on this worker, checkpointed through the job platform, then saved (adapter,
merged model, manifest) under TUNEYARD_HOME/models/<job id>/ and, when asked, imported into an Ollama server.

A stopped worker saves a checkpoint at once and hands the job back; a killed one loses the steps since the last
checkpoint (every `checkpointEvery` steps, 25 by default). The next run restores the adapter, the optimizer and the
random state, and takes the same batches: its loss curve is the uninterrupted one's. Checkpoints live on the
worker's disk: a run resumed on another host starts over (and says so).

With object storage (TUNEYARD_STORAGE_URL) the saved model (not its checkpoint) is uploaded under the same key,
models/<job id>/, before it is registered: a worker or server on another host fetches it from there when it needs it
(tuneyard.providers.local). The providerModelId stays models/<job id>.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import json
import logging
import shutil
import time
from collections import deque
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tuneyard.core.errors import TuneyardError
from tuneyard.core.storage import ArtifactStore, StorageError, artifact_store
from tuneyard.datasets import service as datasets
from tuneyard.datasets.exports import service as exports
from tuneyard.datasets.models import Dataset, ExportFormat
from tuneyard.finetunes.models import MAX_METRICS, FineTuneResult, Metric
from tuneyard.finetunes.outcome import Run, Scaled, final_metrics, register
from tuneyard.jobs.service import JobCancelled, WorkerStopping
from tuneyard.providers import service as providers
from tuneyard.providers.models import Provider

log = logging.getLogger(__name__)

EXPORTED, LOADED, TRAINED, SAVED = 0.02, 0.05, 0.9, 0.95  # progress at the end of each part
CHECKPOINT_EVERY = 25  # steps; extra.checkpointEvery changes it
PACE_WINDOW = 20  # steps the ETA is measured over


async def run_local(run: Run) -> FineTuneResult:
    settings, local, store = run.settings, providers.local(), artifact_store(run.settings)
    output = settings.home / "models" / str(run.id)
    key = output.relative_to(settings.home).as_posix()  # the model's key in the store, and its providerModelId
    try:
        dataset = await datasets.require(run.pool, run.input.dataset_id)
        train, validation = await exports.training_files(
            run.pool, exports.export_store(settings), dataset, ExportFormat.OPENAI_CHAT, Scaled(run, 0.0, EXPORTED),
            job_id=str(run.id),
        )  # fmt: skip
        plan = await asyncio.to_thread(local.plan, settings, run.input.request(), train, validation)
        await run.progress(EXPORTED, f"loading {plan.base_name}")
        training = await asyncio.to_thread(local.training, plan, settings.local_device)
        await _resume(run, training, output / "checkpoint")
        await _train(run, training, output / "checkpoint")
        with run.not_resumable():
            await run.progress(TRAINED, "saving the adapter and the merged model")
            await asyncio.to_thread(training.finish, output)
            metrics = final_metrics(_result(run).metrics, training.trained_tokens)
            hyperparameters = _hyperparameters(training)
            await asyncio.to_thread(_write_manifest, output, run, dataset, training, hyperparameters, metrics)
            if store.shared:
                await run.progress(TRAINED, f"storing the model in {store.describe()}")
                await store.put_folder(key, output, skip={"checkpoint"})
            provider, provider_model_id = Provider.LOCAL, key
            warnings = []
            ollama_name = run.input.extra.get("ollamaModel")
            if ollama_name:
                try:
                    provider, provider_model_id = Provider.OLLAMA, await _push(run, ollama_name, output / "merged")
                except providers.ProviderError as error:  # the trained model is kept, as LOCAL
                    warnings.append(f"the import into Ollama failed ({error.message}); the model is registered as "
                                    f"LOCAL, its merged files in {output / 'merged'}")  # fmt: skip
            model = await register(run, provider, provider_model_id, hyperparameters, metrics)
        await asyncio.to_thread(shutil.rmtree, output / "checkpoint", True)
        await run.progress(1.0, " | ".join([f"model {model.name} ({provider_model_id}) registered", *warnings]))
        return _result(run).model_copy(update={"model_id": str(model.id), "provider_model_id": provider_model_id,
                                               "trained_tokens": training.trained_tokens, "warnings": warnings})  # fmt: skip
    except (JobCancelled, TuneyardError):
        await asyncio.to_thread(shutil.rmtree, output, True)  # a cancelled or failed run leaves nothing behind
        if store.shared:
            await _forget(store, key)
        raise


async def _forget(store: ArtifactStore, key: str) -> None:
    """Remove what a failed run stored; a store that fails now too is logged (the run's own error wins)."""
    try:
        await store.delete_folder(key)
    except StorageError as error:
        log.warning("could not remove %s of a failed fine-tune from %s: %s", key, store.describe(), error.message)


def _result(run: Run) -> FineTuneResult:
    assert run.result is not None
    return run.result


async def _resume(run: Run, training: Any, checkpoint: Path) -> None:
    """Continue from this job's last checkpoint when this worker has its files, with the metrics reported up to it."""
    if run.checkpoint is None:
        return
    if not await asyncio.to_thread((checkpoint / "state.json").exists):
        await run.progress(LOADED, "the checkpoint's files are not on this worker: starting over")
        run.result = _result(run).model_copy(update={"metrics": []})
        return
    await asyncio.to_thread(training.restore, checkpoint)
    saved = [Metric.model_validate(m) for m in run.checkpoint.get("metrics", [])]
    run.result = _result(run).model_copy(update={"metrics": saved})
    await run.progress(_fraction(training), f"resumed at step {training.step}/{training.plan.total_steps}")


def _fraction(training: Any) -> float:
    return LOADED + (TRAINED - LOADED) * training.step / max(training.plan.total_steps, 1)


async def _train(run: Run, training: Any, checkpoint: Path) -> None:
    total = training.plan.total_steps
    every = int(run.input.extra.get("checkpointEvery", CHECKPOINT_EVERY))
    paces: deque[float] = deque(maxlen=PACE_WINDOW)
    while training.step < total:
        try:
            await run.check_cancelled()
        except WorkerStopping:
            await _checkpoint(run, training, checkpoint)  # handed back without losing a step
            raise
        started = time.monotonic()
        loss = await asyncio.to_thread(training.train_step)
        paces.append(time.monotonic() - started)
        valid = None
        if training.step % every == 0 or training.step == total:
            valid = await asyncio.to_thread(training.evaluate)
        metric = Metric(step=training.step, train_loss=loss, valid_loss=valid, total_steps=total)
        run.result = _result(run).model_copy(update={"metrics": [*_result(run).metrics, metric][-MAX_METRICS:]})
        if training.step % every == 0 and training.step < total:
            await _checkpoint(run, training, checkpoint)
        eta = sum(paces) / len(paces) * (total - training.step)
        await run.progress(_fraction(training), f"{metric.describe()} | ETA {_duration(eta)}")


async def _checkpoint(run: Run, training: Any, checkpoint: Path) -> None:
    """The training state on disk, then the step and the metrics so far in the job (what a resumed run reports)."""
    await asyncio.to_thread(training.save_checkpoint, checkpoint)
    await run.save_checkpoint({"step": training.step, "metrics": [m.to_json() for m in _result(run).metrics]})


def _duration(seconds: float) -> str:
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes}m{rest:02d}s" if minutes else f"{rest}s"


def _hyperparameters(training: Any) -> dict[str, Any]:
    plan = training.plan
    return {
        "epochs": plan.epochs, "maxSteps": plan.max_steps, "steps": plan.total_steps, "batchSize": plan.batch_size,
        "learningRate": plan.learning_rate, "loraRank": plan.lora_rank, "maxLength": plan.max_length,
        "seed": plan.seed, "device": training.device,
    }  # fmt: skip


def _write_manifest(
    output: Path, run: Run, dataset: Dataset, training: Any, hyperparameters: dict[str, Any], metrics: dict[str, Any]
) -> None:
    plan = training.plan
    lora = providers.local().lora_facts(plan)
    manifest = {
        "job": str(run.id), "model": run.input.model_name, "createdAt": datetime.now(UTC).isoformat(),
        "dataset": {"id": str(dataset.id), "name": dataset.name, "version": dataset.version,
                    "contentHash": dataset.content_hash},
        "base": {"name": plan.base_name, "path": str(plan.base_path), "sha256": lora.pop("baseSha256")},
        "hyperparameters": {**hyperparameters, **lora},
        "metrics": metrics, "losses": [m.to_json() for m in _result(run).metrics],
        "versions": {name: importlib.metadata.version(name) for name in ("tuneyard", "torch", "transformers", "peft")},
        "files": {"adapter": "adapter/", "merged": "merged/"},
    }  # fmt: skip
    (output / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")


async def _push(run: Run, name: str, merged: Path) -> str:
    async def report(status: str, fraction: float | None) -> None:
        await run.progress(SAVED + (1 - SAVED) * 0.99 * (fraction or 0.0), f"Ollama: {status}")

    return await providers.push_to_ollama(run.settings, name, merged, report)
