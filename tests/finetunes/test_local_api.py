"""LOCAL fine-tunes through the public API: a real LoRA run of the tiny test model on the worker, its loss streamed
over jobProgress, its files and manifest, its import into an Ollama stand-in, and cancellation."""

from __future__ import annotations

import json
import time
from pathlib import Path

from tests.finetunes.test_api import CANCEL, ESTIMATE, JOB, MODEL, PROGRESS, START, final_job, fine_tune
from tests.support import GraphQLWebSocket
from tests.support.standins.env import TINY
from tests.support.standins.ollama_api import OllamaStandIn
from tests.support.tuning import Tuning


def local(dataset_id: str, **more: object) -> dict[str, object]:
    return fine_tune(dataset_id, "LOCAL", TINY, **more)


def _token(tuning: Tuning) -> str:
    return str(tuning.reader.http.headers["Authorization"]).removeprefix("Bearer ")


async def test_a_local_fine_tune_streams_its_loss_and_is_imported_into_ollama(
    tuning: Tuning, ollama_api: OllamaStandIn
) -> None:
    dataset = tuning.dataset(16, validation_fraction=0.25)
    request = local(dataset["id"], epochs=10, maxSteps=12, batchSize=4, learningRate=5e-3,
                    extra={"checkpointEvery": 4, "ollamaModel": "planner:v1", "maxLength": 1024})  # fmt: skip
    query = ESTIMATE.replace("blockers", "blockers steps estimatedPeakMemoryBytes")
    estimate = tuning.reader.data(query, request)["fineTuneEstimate"]
    assert (estimate["steps"], estimate["blockers"], estimate["estimatedCostUsd"]) == (12, [], None)
    assert estimate["estimatedPeakMemoryBytes"] > 50_000_000 and estimate["estimatedSeconds"] > 0
    assert tuning.reader.data(query, request)["fineTuneEstimate"] == estimate, "measured once, then remembered"

    job = tuning.admin.data(START, request)["startFineTune"]
    async with GraphQLWebSocket(tuning.server.url, _token(tuning)) as socket:
        await socket.subscribe(PROGRESS, {"id": job["id"]})
        seen = await socket.results(wait=60)
    messages = [s["jobProgress"]["message"] or "" for s in seen]
    assert seen[-1]["jobProgress"]["status"] == "SUCCEEDED", messages
    assert any("train loss" in m and "ETA" in m for m in messages), messages
    result = final_job(tuning, job["id"])["result"]
    assert [m["step"] for m in result["metrics"]] == list(range(1, 13))
    assert [m["step"] for m in result["metrics"] if m["validLoss"] is not None] == [4, 8, 12]

    model = tuning.reader.data(MODEL, {"id": result["modelId"]})["model"]
    assert (model["provider"], model["providerModelId"], model["baseModel"]) == ("OLLAMA", "planner:v1", TINY)
    assert model["hyperparameters"]["steps"] == 12 and model["hyperparameters"]["loraRank"] == 8
    (created,) = [c for c in ollama_api.created if c["model"] == "planner:v1"]
    assert {"config.json", "model.safetensors", "tokenizer.json"} <= set(created["files"])
    assert "planner:v1" in ollama_api.models

    folder = Path(tuning.env["TUNEYARD_HOME"]) / "models" / job["id"]
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["dataset"] == {"id": dataset["id"], "name": dataset["name"], "version": 1,
                                   "contentHash": manifest["dataset"]["contentHash"]}  # fmt: skip
    assert len(manifest["dataset"]["contentHash"]) == 64 and len(manifest["base"]["sha256"]) == 64
    assert [m["trainLoss"] for m in manifest["losses"]] == [m["trainLoss"] for m in result["metrics"]]
    assert set(manifest["versions"]) == {"tuneyard", "torch", "transformers", "peft"}
    assert (folder / "adapter").is_dir() and (folder / "merged" / "model.safetensors").is_file()
    assert not (folder / "checkpoint").exists(), "checkpoints go once the model is saved"


def test_cancelling_a_local_fine_tune_stops_between_steps_and_leaves_nothing(tuning: Tuning) -> None:
    dataset = tuning.dataset(400, validation_fraction=0)
    job = tuning.admin.data(START, local(dataset["id"], epochs=50, extra={"checkpointEvery": 5}))["startFineTune"]
    deadline = time.monotonic() + 60
    while len((tuning.reader.data(JOB, {"id": job["id"]})["job"]["result"] or {}).get("metrics", [])) < 6:
        assert time.monotonic() < deadline, "training never got going"
        time.sleep(0.05)
    assert tuning.admin.data(CANCEL, {"id": job["id"]})["cancelJob"]["status"] == "CANCELLING"
    final = final_job(tuning, job["id"])
    assert final["status"] == "CANCELLED", final
    assert len(final["result"]["metrics"]) < 5000
    assert not (Path(tuning.env["TUNEYARD_HOME"]) / "models" / job["id"]).exists()


def test_a_failed_ollama_import_keeps_the_trained_model_as_local(tuning: Tuning, ollama_api: OllamaStandIn) -> None:
    dataset = tuning.dataset(8, validation_fraction=0)
    ollama_api.fail_create_with = "out of disk space"
    try:
        request = local(dataset["id"], maxSteps=3, extra={"ollamaModel": "planner:v2", "maxLength": 1024})
        job = tuning.admin.data(START, request)["startFineTune"]
        final = final_job(tuning, job["id"])
    finally:
        ollama_api.fail_create_with = None
    assert final["status"] == "SUCCEEDED", final
    (warning,) = final["result"]["warnings"]
    assert "the import into Ollama failed" in warning and "out of disk space" in warning
    model = tuning.reader.data(MODEL, {"id": final["result"]["modelId"]})["model"]
    assert (model["provider"], model["providerModelId"]) == ("LOCAL", f"models/{job['id']}")
    assert (Path(tuning.env["TUNEYARD_HOME"]) / "models" / job["id"] / "merged" / "model.safetensors").is_file()
