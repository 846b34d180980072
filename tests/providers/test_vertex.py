"""The Vertex AI provider through the real google-genai and google-cloud-storage clients, against a stand-in of
Vertex's tuningJobs API and Cloud Storage's JSON API (tests/support/standins/vertex_api.py)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import google.auth
import pytest
from pydantic import SecretStr

from tests.support import free_port
from tests.support.standins.vertex_api import VertexStandIn, gemini_file_problems
from tuneyard.core.config import Settings
from tuneyard.providers.base import ProviderError
from tuneyard.providers.models import (
    FineTuneRequest,
    PollResult,
    Provider,
    ProviderState,
    TrainingFiles,
    UploadedFiles,
)
from tuneyard.providers.vertex import VertexFineTuner

TUNER = VertexFineTuner()
MARKER = "tuneyard-job-42"


@pytest.fixture(autouse=True)
def no_default_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing may look up Google's default credentials, nor probe the GCE metadata server for them."""
    monkeypatch.setenv("NO_GCE_CHECK", "true")

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("google.auth.default() was called")

    monkeypatch.setattr(google.auth, "default", refuse)


@pytest.fixture
def standin() -> Iterator[VertexStandIn]:
    server = VertexStandIn()
    server.start()
    yield server
    server.stop()


def settings_for(standin: VertexStandIn, tmp_path: Path, **changes: Any) -> Settings:
    values: dict[str, Any] = {
        "home": tmp_path, "vertex_project": standin.project, "vertex_location": standin.location,
        "vertex_bucket": standin.bucket, "vertex_access_token": SecretStr(next(iter(standin.tokens))),
        "vertex_credentials_file": None, "vertex_base_url": standin.vertex_url, "gcs_base_url": standin.gcs_url,
    }  # fmt: skip
    return Settings(**{**values, **changes})


@pytest.fixture
def settings(standin: VertexStandIn, tmp_path: Path) -> Settings:
    return settings_for(standin, tmp_path)


def record(user: str, model: str, system: str | None = None) -> dict[str, Any]:
    """One training example, as Vertex's documentation shows them."""
    line: dict[str, Any] = {
        "contents": [{"role": "user", "parts": [{"text": user}]}, {"role": "model", "parts": [{"text": model}]}]
    }
    if system is not None:
        line["systemInstruction"] = {"role": "system", "parts": [{"text": system}]}
    return line


TRAIN = [
    record("What is the refund window?", "Thirty days from delivery.", "You answer for the shop."),
    record("Do you ship abroad?", "Yes, to the EU and the UK."),
    record("How do I reset my password?", "Use the link on the sign-in page."),
]
VALIDATION = [record("Can I pay by card?", "Yes, all major cards.")]
TRAIN_WORDS = sum(len(part["text"].split()) for r in TRAIN for turn in [r.get("systemInstruction"), *r["contents"]]
                  if turn for part in turn["parts"])  # fmt: skip


def jsonl(records: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in records).encode()


def write(path: Path, records: list[dict[str, Any]]) -> str:
    path.write_bytes(jsonl(records))
    return str(path)


@pytest.fixture
def files(tmp_path: Path) -> TrainingFiles:
    return TrainingFiles(write(tmp_path / "train.jsonl", TRAIN), write(tmp_path / "valid.jsonl", VALIDATION), 3, 1)


def request(**changes: Any) -> FineTuneRequest:
    return FineTuneRequest(**{"dataset_id": "d1", "provider": Provider.GEMINI_VERTEX, "base_model": "gemini-2.5-flash",
                              **changes})  # fmt: skip


async def started(settings: Settings, files: TrainingFiles, marker: str = MARKER, **changes: Any) -> str:
    uploaded = await TUNER.upload(settings, files, marker)
    return await TUNER.start(settings, request(**changes), uploaded, marker)


async def polls(settings: Settings, job_id: str, cursor: dict[str, Any] | None = None) -> list[PollResult]:
    """Every poll until the job ends, each with the cursor of the one before."""
    results: list[PollResult] = []
    cursor = cursor or {}
    while not (results and results[-1].state.final):
        assert len(results) < 10, [r.provider_status for r in results]
        results.append(await TUNER.poll(settings, job_id, cursor))
        cursor = results[-1].cursor
    return results


def test_missing_settings() -> None:
    nothing = Settings(vertex_project=None, vertex_bucket=None, vertex_access_token=None, vertex_credentials_file=None)
    assert TUNER.missing_settings(nothing) == [
        "set TUNEYARD_VERTEX_PROJECT", "set TUNEYARD_VERTEX_BUCKET",
        "set TUNEYARD_VERTEX_ACCESS_TOKEN or TUNEYARD_VERTEX_CREDENTIALS_FILE",
    ]  # fmt: skip
    with_key = Settings(vertex_project="p", vertex_bucket="b", vertex_access_token=None,
                        vertex_credentials_file=Path("key.json"))  # fmt: skip
    assert TUNER.configured(with_key)
    with_token = with_key.model_copy(update={"vertex_credentials_file": None, "vertex_access_token": SecretStr("t")})
    assert TUNER.configured(with_token)
    assert TUNER.missing_settings(with_token.model_copy(update={"vertex_access_token": SecretStr("")})) == [
        "set TUNEYARD_VERTEX_ACCESS_TOKEN or TUNEYARD_VERTEX_CREDENTIALS_FILE"
    ]


async def test_an_unconfigured_call_says_what_is_missing(files: TrainingFiles) -> None:
    with pytest.raises(ProviderError, match="not configured: set TUNEYARD_VERTEX_BUCKET") as caught:
        await TUNER.upload(Settings(vertex_project="p", vertex_bucket=None, vertex_access_token=SecretStr("t")),
                           files, MARKER)  # fmt: skip
    assert not caught.value.retryable


def test_check() -> None:
    assert TUNER.check(request(epochs=3, learning_rate=0.5, extra={"adapterSize": 8})) == []
    assert TUNER.check(request(batch_size=8, lora_rank=4, extra={"adapterSize": 3, "seed": 1})) == [
        "input.loraRank: only LOCAL fine-tunes take it, not GEMINI_VERTEX",
        "input.extra.seed: not a GEMINI_VERTEX setting (allowed: adapterSize)",
        "input.batchSize: Vertex Gemini tuning does not take it",
        "input.extra.adapterSize: one of 1, 2, 4, 8, 16, got 3",
    ]
    assert TUNER.check(request(extra={"adapterSize": True})) == [
        "input.extra.adapterSize: one of 1, 2, 4, 8, 16, got True"
    ]
    assert TUNER.check(request(extra={"adapterSize": "ADAPTER_SIZE_FOUR"})) == [
        "input.extra.adapterSize: one of 1, 2, 4, 8, 16, got 'ADAPTER_SIZE_FOUR'"
    ]


async def test_upload_puts_the_files_in_the_bucket(
    standin: VertexStandIn, settings: Settings, files: TrainingFiles
) -> None:
    uploaded = await TUNER.upload(settings, files, MARKER)
    prefix = f"gs://{standin.bucket}/tuneyard/{MARKER}/"
    assert uploaded == UploadedFiles(prefix + "train.jsonl", prefix + "validation.jsonl")
    for name, records in (("train.jsonl", TRAIN), ("validation.jsonl", VALIDATION)):
        stored = standin.objects[f"tuneyard/{MARKER}/{name}"]
        assert stored == jsonl(records)
        assert gemini_file_problems(stored) == []
        assert standin.object_types[f"tuneyard/{MARKER}/{name}"] == "application/jsonl"
    upload_path = f"/upload/storage/v1/b/{standin.bucket}/o"
    assert standin.requests == [("POST", upload_path), ("POST", upload_path)]  # multipart: one request a file


async def test_upload_survives_a_503(standin: VertexStandIn, settings: Settings, files: TrainingFiles) -> None:
    standin.fail_upload_next = 1
    uploaded = await TUNER.upload(settings, TrainingFiles(files.train, None, 3, 0), MARKER)
    assert uploaded.validation is None
    assert standin.objects == {f"tuneyard/{MARKER}/train.jsonl": jsonl(TRAIN)}
    assert len(standin.requests) == 2  # the 503, then the same upload again


async def test_a_large_file_goes_up_in_a_resumable_upload(
    standin: VertexStandIn, settings: Settings, tmp_path: Path
) -> None:
    big = [record(f"Question {n}: " + "word " * 200, f"Answer {n}.") for n in range(8_000)]  # over 8 MiB
    train = write(tmp_path / "big.jsonl", big)
    assert len(jsonl(big)) > 8 * 1024 * 1024
    standin.fail_upload_next = 1  # the session's start
    await TUNER.upload(settings, TrainingFiles(train, None, len(big), 0), MARKER)
    assert standin.objects[f"tuneyard/{MARKER}/train.jsonl"] == jsonl(big)
    assert [method for method, _ in standin.requests] == ["POST", "POST", "PUT"]


async def test_a_job_runs_to_success(standin: VertexStandIn, settings: Settings, files: TrainingFiles) -> None:
    job_id = await started(settings, files, epochs=2, learning_rate=0.5, model_name="support-bot",
                           extra={"adapterSize": 4})  # fmt: skip
    assert job_id == next(iter(standin.jobs))
    assert job_id.startswith(f"projects/{standin.project}/locations/{standin.location}/tuningJobs/")
    prefix = f"gs://{standin.bucket}/tuneyard/{MARKER}/"
    assert standin.created_jobs == [{
        "baseModel": "gemini-2.5-flash",
        "supervisedTuningSpec": {
            "trainingDatasetUri": prefix + "train.jsonl", "validationDatasetUri": prefix + "validation.jsonl",
            "hyperParameters": {"epochCount": 2, "learningRateMultiplier": 0.5, "adapterSize": "ADAPTER_SIZE_FOUR"},
        },
        "tunedModelDisplayName": "support-bot",
        "labels": {"tuneyard_job": MARKER},
    }]  # fmt: skip

    results = await polls(settings, job_id)
    assert [(r.state, r.provider_status) for r in results] == [
        (ProviderState.QUEUED, "JOB_STATE_PENDING"),
        (ProviderState.RUNNING, "JOB_STATE_RUNNING"),
        (ProviderState.RUNNING, "JOB_STATE_RUNNING"),
        (ProviderState.SUCCEEDED, "JOB_STATE_SUCCEEDED"),
    ]
    # One event per change of state: the second look at a running job has none.
    assert [[e.message for e in r.events] for r in results] == [
        ["Vertex AI: JOB_STATE_PENDING"],
        ["Vertex AI: JOB_STATE_RUNNING"],
        [],
        ["Vertex AI: JOB_STATE_SUCCEEDED"],
    ]
    assert all(e.at.tzinfo is not None for r in results for e in r.events)
    final = results[-1]
    number = job_id.rsplit("/", 1)[1]
    assert final.model_id == f"projects/{standin.project}/locations/{standin.location}/endpoints/{number}"
    assert final.trained_tokens == TRAIN_WORDS
    assert final.error is None and final.progress == 1.0 and final.metrics == []
    assert results[0].trained_tokens is None  # the dataset's statistics come once it runs
    # An empty cursor is a first look: the present state is an event again.
    assert [e.message for e in (await TUNER.poll(settings, job_id, {})).events] == ["Vertex AI: JOB_STATE_SUCCEEDED"]


async def test_a_job_without_settings_gets_vertex_defaults(
    standin: VertexStandIn, settings: Settings, files: TrainingFiles
) -> None:
    await started(settings, TrainingFiles(files.train, None, 3, 0))
    assert standin.created_jobs[0]["supervisedTuningSpec"] == {
        "trainingDatasetUri": f"gs://{standin.bucket}/tuneyard/{MARKER}/train.jsonl"
    }
    assert standin.created_jobs[0]["tunedModelDisplayName"] == MARKER


async def test_find_by_marker(standin: VertexStandIn, settings: Settings, files: TrainingFiles) -> None:
    assert await TUNER.find(settings, MARKER) is None
    first = await started(settings, files)
    second = await started(settings, files, "tuneyard-job-43")
    assert await TUNER.find(settings, MARKER) == first
    assert await TUNER.find(settings, "tuneyard-job-43") == second
    assert standin.list_filters[-1] == 'labels.tuneyard_job="tuneyard-job-43"'


async def test_a_marker_becomes_a_valid_label(standin: VertexStandIn, settings: Settings, files: TrainingFiles) -> None:
    marker = "Tuneyard-Job.7/" + "x" * 80
    job_id = await started(settings, files, marker)
    label = standin.created_jobs[0]["labels"]["tuneyard_job"]
    assert label == ("tuneyard-job_7_" + "x" * 80)[:63]
    assert await TUNER.find(settings, marker) == job_id


async def test_a_bad_training_file_fails_the_job(standin: VertexStandIn, settings: Settings, tmp_path: Path) -> None:
    model_first = {"contents": [{"role": "model", "parts": [{"text": "Hello."}]},
                                {"role": "user", "parts": [{"text": "Hi."}]}]}  # fmt: skip
    train = write(tmp_path / "bad.jsonl", [TRAIN[0], model_first])
    job_id = await started(settings, TrainingFiles(train, None, 2, 0))
    final = (await polls(settings, job_id))[-1]
    assert final.state is ProviderState.FAILED and final.provider_status == "JOB_STATE_FAILED"
    assert final.error is not None and "line 2: contents[0].role: must be 'user'" in final.error
    assert final.events[0].message == f"Vertex AI: JOB_STATE_FAILED: {final.error}"
    assert final.model_id is None
    assert len(standin.file_problems) == 2  # both turns have the wrong role


async def test_a_failing_job_reports_vertex_reason(
    standin: VertexStandIn, settings: Settings, files: TrainingFiles
) -> None:
    standin.fail_job_with = "Internal error occurred. Please retry."
    results = await polls(settings, await started(settings, files))
    assert [r.state for r in results][-2:] == [ProviderState.RUNNING, ProviderState.FAILED]
    assert results[-1].error == "Internal error occurred. Please retry."


async def test_cancel_midway(standin: VertexStandIn, settings: Settings, files: TrainingFiles) -> None:
    job_id = await started(settings, files)
    first = await TUNER.poll(settings, job_id, {})
    running = await TUNER.poll(settings, job_id, first.cursor)
    assert running.state is ProviderState.RUNNING
    await TUNER.cancel(settings, job_id)
    assert standin.jobs[job_id].resource["state"] == "JOB_STATE_CANCELLING"
    cancelled = await TUNER.poll(settings, job_id, running.cursor)
    assert (cancelled.state, cancelled.provider_status) == (ProviderState.CANCELLED, "JOB_STATE_CANCELLED")
    assert [e.message for e in cancelled.events] == ["Vertex AI: JOB_STATE_CANCELLED"]
    assert cancelled.model_id is None and cancelled.error is None
    await TUNER.cancel(settings, job_id)  # an ended job: Vertex refuses, which is no error
    cancels = [path for method, path in standin.requests if path.endswith(":cancel")]
    assert cancels == [f"/vertex/v1/{job_id}:cancel"] * 2


async def test_a_rate_limit_is_retried_by_the_sdk(
    standin: VertexStandIn, settings: Settings, files: TrainingFiles
) -> None:
    job_id = await started(settings, files)
    standin.rate_limit_next = 1
    assert (await TUNER.poll(settings, job_id, {})).provider_status == "JOB_STATE_PENDING"
    assert [path for _, path in standin.requests[-2:]] == [f"/vertex/v1/{job_id}"] * 2


async def test_a_lasting_rate_limit_is_retryable(
    standin: VertexStandIn, settings: Settings, files: TrainingFiles
) -> None:
    job_id = await started(settings, files)
    standin.rate_limit_next = 3  # every attempt the SDK makes
    with pytest.raises(ProviderError, match="429 RESOURCE_EXHAUSTED: Quota exceeded") as caught:
        await TUNER.poll(settings, job_id, {})
    assert caught.value.retryable


async def test_creating_a_job_is_not_retried(standin: VertexStandIn, settings: Settings, files: TrainingFiles) -> None:
    """A retry after an answer lost could create a second job: the fine-tune looks with find() before it retries."""
    uploaded = await TUNER.upload(settings, files, MARKER)
    standin.rate_limit_next = 1
    with pytest.raises(ProviderError) as caught:
        await TUNER.start(settings, request(), uploaded, MARKER)
    assert caught.value.retryable
    assert (
        standin.jobs == {}
        and sum(method == "POST" and path.endswith("tuningJobs") for method, path in standin.requests) == 1
    )


async def test_a_wrong_token_is_refused_without_showing_it(
    standin: VertexStandIn, tmp_path: Path, files: TrainingFiles
) -> None:
    good = settings_for(standin, tmp_path)
    job_id = await started(good, files)
    secret = "ya29.wrong-token-do-not-show"
    wrong = settings_for(standin, tmp_path, vertex_access_token=SecretStr(secret))
    calls = [
        lambda: TUNER.find(wrong, MARKER), lambda: TUNER.poll(wrong, job_id, {}), lambda: TUNER.cancel(wrong, job_id),
        lambda: TUNER.start(wrong, request(), UploadedFiles(f"gs://{standin.bucket}/x", None), MARKER),
    ]  # fmt: skip
    for call in calls:
        with pytest.raises(ProviderError) as caught:
            await call()
        assert not caught.value.retryable
        # The stand-in quotes the token it was given, as a careless server might.
        assert caught.value.message.startswith("Vertex AI refused: 401 UNAUTHENTICATED: ")
        assert secret not in caught.value.message and "[secret]" in caught.value.message
    with pytest.raises(ProviderError, match="Cloud Storage: the access token was refused") as caught:
        await TUNER.upload(wrong, files, MARKER)
    assert not caught.value.retryable and secret not in caught.value.message


async def test_a_partial_success_succeeds_with_a_note(
    standin: VertexStandIn, settings: Settings, files: TrainingFiles
) -> None:
    standin.stages = ("JOB_STATE_QUEUED", "JOB_STATE_RUNNING", "JOB_STATE_PARTIALLY_SUCCEEDED")
    final = (await polls(settings, await started(settings, files)))[-1]
    assert (final.state, final.provider_status) == (ProviderState.SUCCEEDED, "JOB_STATE_PARTIALLY_SUCCEEDED")
    assert final.model_id is not None and final.model_id.endswith("/endpoints/7000001")
    assert "some results may be missing" in final.events[0].message


async def test_an_unreachable_vertex_is_retryable(tmp_path: Path, standin: VertexStandIn) -> None:
    nowhere = settings_for(standin, tmp_path, vertex_base_url=f"http://127.0.0.1:{free_port()}/")
    with pytest.raises(ProviderError, match="Vertex AI could not be reached: ConnectError") as caught:
        await TUNER.poll(nowhere, f"projects/{standin.project}/locations/{standin.location}/tuningJobs/1", {})
    assert caught.value.retryable


async def test_another_project_is_refused(standin: VertexStandIn, tmp_path: Path) -> None:
    other = settings_for(standin, tmp_path, vertex_project="someone-else")
    with pytest.raises(ProviderError, match="403 PERMISSION_DENIED") as caught:
        await TUNER.find(other, MARKER)
    assert not caught.value.retryable


async def test_a_service_account_key_file(standin: VertexStandIn, tmp_path: Path, files: TrainingFiles) -> None:
    email = "tuneyard@tuneyard-test.iam.gserviceaccount.com"
    key = {
        "type": "service_account", "project_id": standin.project, "private_key_id": "k1",
        "private_key": standin.add_service_account(email), "client_email": email, "client_id": "1",
        "token_uri": standin.token_url,
    }  # fmt: skip
    (tmp_path / "key.json").write_text(json.dumps(key))
    settings = settings_for(standin, tmp_path, vertex_access_token=None, vertex_credentials_file=tmp_path / "key.json")
    job_id = await started(settings, files)
    assert (await TUNER.poll(settings, job_id, {})).state is ProviderState.QUEUED
    assert len(standin.tokens) > 1  # the SDKs swapped the key for tokens
    assert standin.objects and standin.jobs


async def test_an_unreadable_key_file(standin: VertexStandIn, tmp_path: Path) -> None:
    settings = settings_for(standin, tmp_path, vertex_access_token=None, vertex_credentials_file=tmp_path / "none.json")
    with pytest.raises(ProviderError, match="TUNEYARD_VERTEX_CREDENTIALS_FILE: no service account key") as caught:
        await TUNER.find(settings, MARKER)
    assert not caught.value.retryable and standin.requests == []
