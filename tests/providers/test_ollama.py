"""The Ollama provider over real HTTP, against a stand-in of Ollama's REST API (tests/support/standins/ollama_api.py):
the model list, and importing a merged model's files as blobs and a create."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support import free_port
from tests.support.standins.ollama_api import OllamaStandIn
from tuneyard.core.config import Settings
from tuneyard.core.errors import ValidationError
from tuneyard.providers.base import ProviderError
from tuneyard.providers.ollama import OllamaProvider, push

PROVIDER = OllamaProvider()
LLAMA_CONFIG = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 64}


@pytest.fixture
def standin() -> Iterator[OllamaStandIn]:
    server = OllamaStandIn(models=["llama3.2:1b", "qwen2.5:0.5b"])
    server.start()
    yield server
    server.stop()


@pytest.fixture
def settings(standin: OllamaStandIn, tmp_path: Path) -> Settings:
    return Settings(home=tmp_path, ollama_url=standin.url)


def model_dir(path: Path, config: dict[str, object] | None = LLAMA_CONFIG, weights: bool = True) -> Path:
    """A merged model's folder as a LOCAL fine-tune leaves it, with a hidden file and a subfolder not to send."""
    path.mkdir()
    if config is not None:
        (path / "config.json").write_text(json.dumps(config))
    if weights:
        (path / "model.safetensors").write_bytes(os.urandom(6000))
    (path / "tokenizer.json").write_text(json.dumps({"version": "1.0", "model": {"type": "BPE"}}))
    (path / ".gitattributes").write_text("*.safetensors filter=lfs\n")
    (path / "checkpoint-10").mkdir()
    (path / "checkpoint-10" / "adapter_model.safetensors").write_bytes(b"not sent")
    return path


def digest(path: Path) -> str:
    return f"sha256:{hashlib.sha256(path.read_bytes()).hexdigest()}"


class Reports:
    """A report() callback that keeps what it was given."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, float | None]] = []

    async def __call__(self, status: str, fraction: float | None) -> None:
        self.calls.append((status, fraction))

    @property
    def statuses(self) -> list[str]:
        return [status for status, _ in self.calls]


async def test_base_models_are_the_servers_models(settings: Settings) -> None:
    models = await PROVIDER.base_models(settings)
    assert [m.name for m in models] == ["llama3.2:1b", "qwen2.5:0.5b"]
    assert all(not m.can_fine_tune and m.context_tokens is None and m.training_price is None for m in models)


async def test_unconfigured_names_the_missing_setting(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, ollama_url=None)
    assert PROVIDER.missing_settings(settings) == ["set TUNEYARD_OLLAMA_URL"]
    assert not PROVIDER.configured(settings)
    assert PROVIDER.configured(Settings(home=tmp_path, ollama_url="http://127.0.0.1:11434"))
    with pytest.raises(ProviderError, match="TUNEYARD_OLLAMA_URL"):
        await PROVIDER.base_models(settings)


async def test_an_unreachable_server_is_a_retryable_error_naming_it(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    settings = Settings(home=tmp_path, ollama_url=url)
    with pytest.raises(ProviderError) as listing:
        await PROVIDER.base_models(settings)
    with pytest.raises(ProviderError) as pushing:
        await push(settings, "planner", model_dir(tmp_path / "merged"), Reports())
    for error in (listing.value, pushing.value):
        assert error.retryable
        assert f"Ollama at {url} could not be reached" in error.message


async def test_push_uploads_each_file_then_creates_the_model(
    standin: OllamaStandIn, settings: Settings, tmp_path: Path
) -> None:
    folder = model_dir(tmp_path / "merged")
    files = ["config.json", "model.safetensors", "tokenizer.json"]
    digests = {name: digest(folder / name) for name in files}
    reports = Reports()

    assert await push(settings, "planner", folder, reports) == "planner:latest"

    sizes = {name: (folder / name).stat().st_size for name in files}
    assert standin.blobs == {digests[name]: sizes[name] for name in files}
    assert standin.created == [{"model": "planner", "files": digests, "stream": True}]
    blob_calls = [(method, f"/api/blobs/{digests[name]}") for name in files for method in ("HEAD", "POST")]
    assert standin.requests == [*blob_calls, ("POST", "/api/create")]
    total = sum(sizes.values())
    assert reports.calls[:3] == [
        (f"uploading config.json ({sizes['config.json']} B)", 0),
        ("uploading model.safetensors (6.0 KB)", sizes["config.json"] / total),
        (f"uploading tokenizer.json ({sizes['tokenizer.json']} B)", (sizes["config.json"] + 6000) / total),
    ]
    created = reports.statuses[3:]
    assert created[0] == "converting model" and created[1].startswith("creating new layer sha256:")
    assert created[2:] == ["writing manifest", "success"]
    assert "planner:latest" in [m.name for m in await PROVIDER.base_models(settings)]
    assert standin.models["planner:latest"] == digests


async def test_a_second_push_of_the_same_files_uploads_nothing(
    standin: OllamaStandIn, settings: Settings, tmp_path: Path
) -> None:
    folder = model_dir(tmp_path / "merged")
    assert await push(settings, "team/planner:v1", folder, Reports()) == "team/planner:v1"
    first = len(standin.requests)
    reports = Reports()

    assert await push(settings, "team/planner:v2", folder, reports) == "team/planner:v2"

    again = standin.requests[first:]
    assert [method for method, _ in again] == ["HEAD", "HEAD", "HEAD", "POST"]
    assert again[-1] == ("POST", "/api/create")
    assert not any(status.startswith("uploading") for status in reports.statuses)
    assert reports.statuses[-1] == "success"
    assert standin.models["team/planner:v2"] == standin.models["team/planner:v1"]


async def test_a_failed_upload_is_retryable_and_a_retry_succeeds(
    standin: OllamaStandIn, settings: Settings, tmp_path: Path
) -> None:
    folder = model_dir(tmp_path / "merged")
    standin.fail_blob_next = 1

    with pytest.raises(ProviderError) as failed:
        await push(settings, "planner:v1", folder, Reports())

    assert failed.value.retryable
    assert "500 write /root/.ollama/models/blobs/sha256-partial: no space left on device" in failed.value.message
    assert standin.created == []
    assert await push(settings, "planner:v1", folder, Reports()) == "planner:v1"
    assert len(standin.blobs) == 3


async def test_a_file_changed_after_hashing_is_refused_for_good(
    standin: OllamaStandIn, settings: Settings, tmp_path: Path
) -> None:
    folder = model_dir(tmp_path / "merged")

    async def overwrite_weights(status: str, fraction: float | None) -> None:
        if status.startswith("uploading model.safetensors"):
            (folder / "model.safetensors").write_bytes(os.urandom(6000))

    with pytest.raises(ProviderError) as refused:
        await push(settings, "planner", folder, overwrite_weights)

    assert not refused.value.retryable
    assert "400 digest mismatch" in refused.value.message
    assert standin.created == []


async def test_a_create_error_is_final_with_ollamas_message(
    standin: OllamaStandIn, settings: Settings, tmp_path: Path
) -> None:
    standin.fail_create_with = "llama runner: out of memory while converting tensors"
    reports = Reports()

    with pytest.raises(ProviderError) as refused:
        await push(settings, "planner", model_dir(tmp_path / "merged"), reports)

    assert not refused.value.retryable
    assert "llama runner: out of memory while converting tensors" in refused.value.message
    assert reports.statuses[-1] == "converting model"
    assert "planner:latest" not in standin.models


@pytest.mark.parametrize(
    "config, weights, refusal",
    [
        (LLAMA_CONFIG, False, "unknown type"),
        (None, True, "open config.json: file does not exist"),
        ({"architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2"}, True, "unsupported architecture"),
    ],
    ids=["no-safetensors", "no-config", "not-llama"],
)
async def test_what_ollama_cannot_import_is_refused_with_its_reason(
    standin: OllamaStandIn,
    settings: Settings,
    tmp_path: Path,
    config: dict[str, object] | None,
    weights: bool,
    refusal: str,
) -> None:
    with pytest.raises(ProviderError, match=refusal) as refused:
        await push(settings, "planner", model_dir(tmp_path / "merged", config, weights), Reports())
    assert not refused.value.retryable
    assert standin.models.keys() == {"llama3.2:1b", "qwen2.5:0.5b"}


@pytest.mark.parametrize(
    "name",
    ["", "planner v1", "-planner", "planner:", ":v1", "ns.x/planner", "a/b/c", "pla..nner", "planner:v1:v2", "p" * 129],
)
async def test_a_bad_model_name_is_refused_before_any_call(
    standin: OllamaStandIn, settings: Settings, tmp_path: Path, name: str
) -> None:
    with pytest.raises(ValidationError, match=r"input\.extra\.ollamaModel: .* is not an Ollama model name"):
        await push(settings, name, model_dir(tmp_path / "merged"), Reports())
    assert standin.requests == []


async def test_the_standin_refuses_what_ollama_refuses(standin: OllamaStandIn) -> None:
    """Its checks hold, so that a push it accepts is one Ollama would accept."""
    content = b"weights"
    good = f"sha256:{hashlib.sha256(content).hexdigest()}"
    other = f"sha256:{hashlib.sha256(b'other').hexdigest()}"
    async with httpx.AsyncClient(base_url=standin.url) as client:
        mismatch = await client.post(f"/api/blobs/{other}", content=content)
        assert mismatch.status_code == 400 and mismatch.json()["error"].startswith("digest mismatch")
        assert (await client.head(f"/api/blobs/{other}")).status_code == 404
        assert (await client.post(f"/api/blobs/{good}", content=content)).status_code == 201
        assert (await client.head(f"/api/blobs/{good}")).status_code == 200
        files = {"model.safetensors": good, "config.json": other}
        missing = await client.post("/api/create", json={"model": "x", "files": files})
        assert missing.status_code == 400 and missing.json()["error"].startswith("blob not found for config.json")
