"""complete(): one answer of a model, through each provider's real SDK (or REST API) against its stand-in, and from
LOCAL models (the tiny test model, as a base model and as a fine-tuned folder) on the CPU."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import google.auth
import pytest
import torch
from pydantic import SecretStr
from transformers import AutoModelForCausalLM, AutoTokenizer

from tests.support.standins.anthropic_api import AnthropicStandIn
from tests.support.standins.ollama_api import OllamaStandIn
from tests.support.standins.openai_api import OpenAIStandIn
from tests.support.standins.vertex_api import VertexStandIn
from tests.support.tiny_model import build
from tuneyard.core.config import Settings
from tuneyard.providers import catalog
from tuneyard.providers.anthropic import AnthropicProvider
from tuneyard.providers.base import ProviderError, ProviderModule
from tuneyard.providers.local import LocalProvider, training
from tuneyard.providers.models import Completion, FineTuneRequest, Provider, TrainingFiles
from tuneyard.providers.ollama import OllamaProvider
from tuneyard.providers.openai import OpenAIFineTuner
from tuneyard.providers.vertex import VertexFineTuner

SYSTEM = "You plan social media posts."
USER = "Post the launch to LinkedIn."
ANSWER = "Draft the launch post, then publish it on Monday."
SECRET = "sk-test-key-0123456789"


def words(*texts: str) -> int:
    """The stand-ins' token count."""
    return sum(len(text.split()) for text in texts)


@dataclass
class Case:
    """A provider, its stand-in and its settings; `sent`: the body the stand-in received last, and `expected`: the
    body the provider should send for (model, max_tokens)."""

    provider: ProviderModule
    model: str
    stand_in: Any
    settings: Settings
    sent: Callable[[], dict[str, Any]]
    expected: Callable[[str, int], dict[str, Any]]
    retries: int  # the SDK's own, before a ProviderError


@pytest.fixture(autouse=True)
def no_default_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing may look up Google's default credentials, nor probe the GCE metadata server for them."""
    monkeypatch.setenv("NO_GCE_CHECK", "true")

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("google.auth.default() was called")

    monkeypatch.setattr(google.auth, "default", refuse)


def openai_case(tmp_path: Path) -> Case:
    stand_in = OpenAIStandIn(api_key=SECRET)
    settings = Settings(home=tmp_path, openai_api_key=SecretStr(SECRET), openai_base_url=stand_in.api_url)
    messages = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": USER}]
    return Case(
        OpenAIFineTuner(), "ft:gpt-4o-mini-2024-07-18:tuneyard:planner:ftjob-1", stand_in, settings,
        lambda: stand_in.completions[-1],
        lambda model, limit: {"model": model, "messages": messages, "max_completion_tokens": limit, "temperature": 0},
        retries=2,
    )  # fmt: skip


def anthropic_case(tmp_path: Path) -> Case:
    stand_in = AnthropicStandIn(api_key=SECRET)
    settings = Settings(home=tmp_path, anthropic_api_key=SecretStr(SECRET), anthropic_base_url=stand_in.url)
    return Case(
        AnthropicProvider(), "claude-3-haiku-20240307", stand_in, settings, lambda: stand_in.messages[-1],
        # No temperature: the API version the SDK speaks refuses it (the stand-in too).
        lambda model, limit: {"model": model, "system": SYSTEM, "messages": [{"role": "user", "content": USER}],
                              "max_tokens": limit},
        retries=2,
    )  # fmt: skip


def vertex_case(tmp_path: Path) -> Case:
    stand_in = VertexStandIn(token=SECRET)
    # No bucket: inference reads no files.
    settings = Settings(home=tmp_path, vertex_project=stand_in.project, vertex_location=stand_in.location,
                        vertex_bucket=None, vertex_access_token=SecretStr(SECRET), vertex_credentials_file=None,
                        vertex_base_url=stand_in.vertex_url)  # fmt: skip
    return Case(
        VertexFineTuner(), "gemini-2.5-flash", stand_in, settings, lambda: stand_in.generated[-1][1],
        lambda model, limit: {
            "contents": [{"role": "user", "parts": [{"text": USER}]}],
            "systemInstruction": {"role": "user", "parts": [{"text": SYSTEM}]},
            "generationConfig": {"temperature": 0.0, "maxOutputTokens": limit},
        },
        retries=2,
    )  # fmt: skip


def ollama_case(tmp_path: Path) -> Case:
    stand_in = OllamaStandIn(models=["llama3.2:1b", "planner:v1"])
    messages = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": USER}]
    return Case(
        OllamaProvider(), "planner:v1", stand_in, Settings(home=tmp_path, ollama_url=stand_in.url),
        lambda: stand_in.chats[-1],
        lambda model, limit: {"model": model, "messages": messages, "stream": False,
                              "options": {"temperature": 0, "num_predict": limit}},
        retries=0,
    )  # fmt: skip


CASES = {"openai": openai_case, "anthropic": anthropic_case, "vertex": vertex_case, "ollama": ollama_case}


@contextmanager
def running(name: str, tmp_path: Path) -> Iterator[Case]:
    """The case with its stand-in serving."""
    case = CASES[name](tmp_path)
    case.stand_in.start()
    try:
        yield case
    finally:
        case.stand_in.stop()


@pytest.fixture(params=list(CASES))
def case(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Case]:
    with running(request.param, tmp_path) as made:
        yield made


async def test_each_provider_answers_through_its_api(case: Case) -> None:
    case.stand_in.answers[USER] = ANSWER
    found = await case.provider.complete(case.settings, case.model, SYSTEM, USER, 64)
    assert (found.text, found.input_tokens, found.output_tokens) == (ANSWER, words(SYSTEM, USER), words(ANSWER))
    assert found.seconds > 0
    assert case.sent() == case.expected(case.model, 64)
    cut = await case.provider.complete(case.settings, case.model, SYSTEM, USER, 3)  # the limit reaches the model
    assert (cut.text, cut.output_tokens) == ("Draft the launch", 3)
    assert case.sent() == case.expected(case.model, 3)


async def test_a_server_error_is_retried_by_the_sdk_then_retryable(case: Case) -> None:
    case.stand_in.fail_next = case.retries  # the SDK's retries get through
    if case.retries:
        assert (await case.provider.complete(case.settings, case.model, SYSTEM, USER, 8)).text == "I cannot say."
    case.stand_in.fail_next = case.retries + 1
    before = len(case.stand_in.requests)
    with pytest.raises(ProviderError) as caught:
        await case.provider.complete(case.settings, case.model, SYSTEM, USER, 8)
    assert caught.value.retryable, caught.value.message
    assert len(case.stand_in.requests) - before == case.retries + 1


@pytest.mark.parametrize(("name", "secret"), [("openai", "openai_api_key"), ("anthropic", "anthropic_api_key"),
                                               ("vertex", "vertex_access_token")])  # fmt: skip
async def test_a_refused_key_is_not_retryable_and_not_quoted(name: str, secret: str, tmp_path: Path) -> None:
    wrong = "sk-wrong-9876543210"
    with running(name, tmp_path) as case, pytest.raises(ProviderError) as caught:
        settings = case.settings.model_copy(update={secret: SecretStr(wrong)})
        await case.provider.complete(settings, case.model, SYSTEM, USER, 8)
    assert not caught.value.retryable
    assert "401" in caught.value.message and wrong not in caught.value.message, caught.value.message  # redacted


async def test_an_unconfigured_provider_says_what_is_missing(case: Case, tmp_path: Path) -> None:
    nothing = Settings(home=tmp_path, openai_api_key=None, anthropic_api_key=None, ollama_url=None, vertex_project=None,
                       vertex_access_token=None, vertex_credentials_file=None)  # fmt: skip
    with pytest.raises(ProviderError, match="not configured: set TUNEYARD_") as caught:
        await case.provider.complete(nothing, case.model, SYSTEM, USER, 8)
    assert not caught.value.retryable
    assert case.stand_in.requests == []


UNKNOWN = [("vertex", "gemini-0-nonexistent", "404 NOT_FOUND"),
           ("ollama", "nonexistent:7b", 'model "nonexistent:7b" not found')]  # fmt: skip


@pytest.mark.parametrize(("name", "model", "why"), UNKNOWN)
async def test_unknown_models_are_refused_for_good(name: str, model: str, why: str, tmp_path: Path) -> None:
    with running(name, tmp_path) as case, pytest.raises(ProviderError, match=why) as caught:
        await case.provider.complete(case.settings, model, SYSTEM, USER, 8)
    assert not caught.value.retryable


async def test_anthropic_refuses_an_answer_too_long_to_wait_for(tmp_path: Path) -> None:
    """The SDK refuses, before sending anything, a max_tokens that may take over 10 minutes without streaming."""
    case = anthropic_case(tmp_path)
    with pytest.raises(ProviderError, match="Streaming is required") as caught:
        await case.provider.complete(case.settings, case.model, SYSTEM, USER, 100_000)
    assert not caught.value.retryable


async def tuned_endpoint(stand_in: VertexStandIn, settings: Settings, tmp_path: Path) -> str:
    """The model id of a Gemini tuned on the stand-in (what the registry keeps): the job's endpoint."""
    tuner = VertexFineTuner()
    settings = settings.model_copy(update={"vertex_bucket": stand_in.bucket, "gcs_base_url": stand_in.gcs_url})
    train = tmp_path / "train.jsonl"
    train.write_text(json.dumps({"contents": [{"role": "user", "parts": [{"text": USER}]},
                                              {"role": "model", "parts": [{"text": ANSWER}]}]}) + "\n")  # fmt: skip
    uploaded = await tuner.upload(settings, TrainingFiles(str(train), None, 1, 0), "inference-test")
    request = FineTuneRequest("d1", Provider.GEMINI_VERTEX, "gemini-2.5-flash")
    job_id = await tuner.start(settings, request, uploaded, "inference-test")
    cursor: dict[str, Any] = {}
    while (poll := await tuner.poll(settings, job_id, cursor)).model_id is None:
        assert not poll.state.final, poll
        cursor = poll.cursor
    return poll.model_id


async def test_a_tuned_gemini_answers_at_its_endpoint_with_its_thoughts_counted(tmp_path: Path) -> None:
    """Gemini's thinking tokens are billed as output: they are counted in."""
    with running("vertex", tmp_path) as case:
        endpoint = await tuned_endpoint(case.stand_in, case.settings, tmp_path)
        assert endpoint.startswith(f"projects/{case.stand_in.project}/locations/{case.stand_in.location}/endpoints/")
        case.stand_in.answers[USER], case.stand_in.thoughts_tokens = ANSWER, 5
        found = await case.provider.complete(case.settings, endpoint, SYSTEM, USER, 64)
    assert (found.text, found.output_tokens) == (ANSWER, words(ANSWER) + 5)
    assert case.stand_in.generated[-1] == (endpoint, case.expected(endpoint, 64))


async def test_a_provider_without_inference_says_so() -> None:
    class Mute(ProviderModule):
        facts = catalog.OLLAMA

        def missing_settings(self, settings: Settings) -> list[str]:
            return []

    with pytest.raises(ProviderError, match=r"^OLLAMA does not answer requests$") as caught:
        await Mute().complete(Settings(), "any", SYSTEM, USER, 8)
    assert not caught.value.retryable


# LOCAL


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build(tmp_path_factory.mktemp("tiny") / "model")


@pytest.fixture
def local_settings(tiny: Path, tmp_path: Path) -> Settings:
    """The tiny model as the base model "tiny", and a fine-tuned one (other weights) where a LOCAL fine-tune with
    job id 7 leaves its merged model."""
    build(tmp_path / "models" / "7" / "merged", seed=1)
    return Settings(home=tmp_path, local_models={"tiny": tiny}, local_device="cpu")


def reference(path: Path, max_tokens: int) -> tuple[str, int, int]:
    """(answer, prompt tokens, generated tokens): greedy generation as transformers does it, with nothing kept."""
    model = AutoModelForCausalLM.from_pretrained(path)
    tokenizer: Any = AutoTokenizer.from_pretrained(path)
    messages = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": USER}]
    prompt = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt", return_dict=True)
    with torch.no_grad():
        output = model.generate(**prompt, max_new_tokens=max_tokens, do_sample=False)
    prompt_tokens = prompt["input_ids"].shape[1]
    generated = output[0, prompt_tokens:]
    return tokenizer.decode(generated, skip_special_tokens=True), prompt_tokens, len(generated)


async def test_local_answers_greedily_from_a_base_model_and_a_fine_tuned_one(
    local_settings: Settings, tiny: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    loads: list[Path] = []
    real_load = training.load_base

    def load(path: Path) -> tuple[Any, Any]:
        loads.append(path)
        return real_load(path)

    monkeypatch.setattr(training, "load_base", load)
    local = LocalProvider()
    base = await local.complete(local_settings, "tiny", SYSTEM, USER, 12)
    again = await local.complete(local_settings, "tiny", SYSTEM, USER, 12)
    tuned = await local.complete(local_settings, "models/7", SYSTEM, USER, 12)
    after = await local.complete(local_settings, "tiny", SYSTEM, USER, 12)
    merged = local_settings.home / "models" / "7" / "merged"
    assert loads == [tiny, merged, tiny]  # the last model used stays loaded, and only that one
    assert (base.text, base.input_tokens, base.output_tokens) == reference(tiny, 12)
    assert base.output_tokens == 12 and base.seconds > 0  # random weights: no end of turn within 12 tokens
    for same in (again, after):
        assert same == Completion(base.text, base.input_tokens, base.output_tokens, same.seconds)
    assert (tuned.text, tuned.input_tokens, tuned.output_tokens) == reference(merged, 12)
    assert tuned.text != base.text  # the fine-tuned folder's weights answered, not the base model's


async def test_local_without_its_extra_says_how_to_install_it(
    local_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *rest: None if name == "peft" else real(name, *rest))
    with pytest.raises(ProviderError, match=r"LOCAL cannot answer: install the \[local\] extra") as caught:
        await LocalProvider().complete(local_settings, "tiny", SYSTEM, USER, 8)
    assert not caught.value.retryable


@pytest.mark.parametrize("model", ["nonexistent", "models/8", "models/../models/7", "/etc", "models/7/merged"])
async def test_local_refuses_models_it_does_not_have(local_settings: Settings, model: str) -> None:
    with pytest.raises(ProviderError, match="no LOCAL model") as caught:
        await LocalProvider().complete(local_settings, model, SYSTEM, USER, 8)
    assert not caught.value.retryable
