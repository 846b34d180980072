"""A LOCAL fine-tune with object storage, against moto's S3 server on 127.0.0.1 (not AWS): the worker trains the tiny
test model for real and uploads the saved model under models/<job id>/; a host with another TUNEYARD_HOME then
answers with it and imports it into Ollama, fetching it from the bucket first."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.finetunes.test_api import MODEL, START, final_job, fine_tune
from tests.support.s3 import S3Server, s3_server
from tests.support.standins.env import TINY
from tests.support.standins.ollama_api import OllamaStandIn
from tests.support.tuning import Tuning, start_server
from tuneyard.core.storage.s3 import COMPLETE
from tuneyard.providers.base import ProviderError
from tuneyard.providers.local import LocalProvider
from tuneyard.providers.local.stored import fine_tuned_folder
from tuneyard.providers.ollama import push


@pytest.fixture(scope="module")
def s3() -> Iterator[S3Server]:
    with s3_server() as server:
        yield server


@pytest.fixture(scope="module")
def stored(
    backing: tuple[str, str], providers_env: dict[str, str], s3: S3Server, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Tuning, str]]:
    bucket = s3.bucket()
    home = tmp_path_factory.mktemp("stored-home")
    for tuning in start_server(backing, home, {**providers_env, **s3.env(bucket, prefix="ty")}):
        yield tuning, bucket


async def test_a_local_model_is_stored_and_loaded_on_another_home(
    stored: tuple[Tuning, str], s3: S3Server, ollama_api: OllamaStandIn, tmp_path: Path
) -> None:
    tuning, bucket = stored
    dataset = tuning.dataset(12, validation_fraction=0.25)
    request = fine_tune(dataset["id"], "LOCAL", TINY, maxSteps=3, extra={"checkpointEvery": 2, "maxLength": 1024})
    job = tuning.admin.data(START, request)["startFineTune"]
    final = final_job(tuning, job["id"], within=120)
    assert final["status"] == "SUCCEEDED", final
    model = tuning.reader.data(MODEL, {"id": final["result"]["modelId"]})["model"]
    model_id = f"models/{job['id']}"
    assert (model["provider"], model["providerModelId"]) == ("LOCAL", model_id), "the id keeps its form"

    trained = Path(tuning.env["TUNEYARD_HOME"]) / model_id
    keys = s3.keys(bucket, f"ty/{model_id}")
    on_disk = {p.relative_to(trained).as_posix(): p.stat().st_size for p in trained.rglob("*") if p.is_file()}
    assert {k.removeprefix(f"ty/{model_id}/"): size for k, size in keys.items()} == on_disk
    assert {"manifest.json", "merged/model.safetensors", "merged/config.json", COMPLETE} <= set(on_disk)
    assert not any(k.startswith(f"ty/{model_id}/checkpoint") for k in keys), "checkpoints stay on the worker"
    assert json.loads(s3.read(bucket, f"ty/{model_id}/{COMPLETE}"))["files"]["merged/model.safetensors"] > 0

    # Another host: nothing of the model on its disk until it is asked for it.
    elsewhere = s3.settings(tmp_path / "b", bucket, prefix="ty")
    answer = await LocalProvider().complete(elsewhere, model_id, "You plan.", "Post on LinkedIn", 4)
    assert answer.output_tokens is not None and 0 < answer.output_tokens <= 4
    fetched = tmp_path / "b" / model_id
    for name in ("merged/model.safetensors", "merged/config.json", "manifest.json"):
        assert (fetched / name).read_bytes() == (trained / name).read_bytes(), name

    async def report(status: str, fraction: float | None) -> None:
        return None

    third = s3.settings(tmp_path / "c", bucket, prefix="ty", ollama_url=ollama_api.url)
    assert await push(third, "planner:stored", tmp_path / "c" / model_id / "merged", report) == "planner:stored"
    (created,) = [c for c in ollama_api.created if c["model"] == "planner:stored"]
    assert {"config.json", "model.safetensors"} <= set(created["files"])

    missing = s3.settings(tmp_path / "d", bucket, prefix="ty")
    with pytest.raises(ProviderError, match="no LOCAL model 'models/999999'"):
        await LocalProvider().complete(missing, "models/999999", "s", "u", 4)
    with pytest.raises(ProviderError, match="nor a fine-tuned model in object storage"):
        await push(third, "planner:none", tmp_path / "c" / "models" / "999999" / "merged", report)


async def test_a_model_trained_here_before_object_storage_was_configured_still_loads(
    s3: S3Server, tmp_path: Path
) -> None:
    """Its folder was never stored (no marker here or in the bucket) but was saved whole: its manifest says so. A
    folder a dead run left (a checkpoint, no manifest) is not taken for a model."""
    settings = s3.settings(tmp_path, s3.bucket())
    saved = tmp_path / "models" / "41"
    (saved / "merged").mkdir(parents=True)
    (saved / "manifest.json").write_text("{}")
    assert await fine_tuned_folder(settings, "models/41") == saved
    left = tmp_path / "models" / "42"
    (left / "checkpoint").mkdir(parents=True)
    assert await fine_tuned_folder(settings, "models/42") is None
    with pytest.raises(ProviderError, match="no LOCAL model 'models/42'"):
        await LocalProvider().complete(settings, "models/42", "s", "u", 4)
