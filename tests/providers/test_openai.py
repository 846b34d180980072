"""The OpenAI provider through the real SDK, against a stand-in that speaks OpenAI's HTTP API."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

import tuneyard.providers.openai as provider_module
from tests.support import free_port
from tests.support.standins.openai_api import OpenAIStandIn
from tuneyard.core.config import Settings
from tuneyard.datasets.exports.formats import exporter_for
from tuneyard.datasets.models import ExportFormat, FrozenExample, Split
from tuneyard.providers import catalog
from tuneyard.providers.base import ProviderError
from tuneyard.providers.models import (
    FineTuneRequest,
    PollResult,
    Provider,
    ProviderState,
    TrainingFiles,
    TrainingMetric,
)
from tuneyard.providers.openai import OpenAIFineTuner

KEY = "sk-test-4f1c9a7e2b"
MODEL = "gpt-4o-mini-2024-07-18"
tuner = OpenAIFineTuner()


@pytest.fixture
def stand_in() -> Iterator[OpenAIStandIn]:
    server = OpenAIStandIn(api_key=KEY)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def settings(stand_in: OpenAIStandIn) -> Settings:
    return Settings(openai_api_key=SecretStr(KEY), openai_base_url=stand_in.api_url)


def chat_lines(count: int, role: str = "assistant") -> str:
    """`count` examples in OpenAI's chat format (the last message's role as given)."""
    return "".join(
        json.dumps(
            {
                "messages": [
                    {"role": "system", "content": "You route support tickets."},
                    {"role": "user", "content": f"Ticket {i}: the printer is on fire."},
                    {"role": role, "content": f"Route ticket {i} to facilities."},
                ]
            }
        )
        + "\n"
        for i in range(count)
    )


def training_files(folder: Path, train: str, validation: str | None = None) -> TrainingFiles:
    (folder / "train.jsonl").write_text(train)
    if validation is not None:
        (folder / "validation.jsonl").write_text(validation)
    return TrainingFiles(
        train=str(folder / "train.jsonl"),
        validation=str(folder / "validation.jsonl") if validation is not None else None,
        train_examples=train.count("\n"),
        validation_examples=validation.count("\n") if validation else 0,
    )


def request(**settings: object) -> FineTuneRequest:
    return FineTuneRequest(dataset_id="ds-1", provider=Provider.OPENAI, base_model=MODEL, **settings)


def frozen(n: int) -> FrozenExample:
    """A dataset example as Tuneyard's exporters read it."""
    at = datetime(2025, 3, 1, tzinfo=UTC)
    return FrozenExample(
        n, Split.TRAIN, f"run-{n}", f"Post about launch {n}", "create_content", "linkedin", '{"plan": "pro"}',
        '{"steps": [{"tool": "draft"}]}', None, 0.9, True, [], None, None, at, at,
    )  # fmt: skip


async def started(settings: Settings, tmp_path: Path, marker: str = "ft-1", **options: object) -> str:
    """A job on 12 good training examples; its id."""
    uploaded = await tuner.upload(settings, training_files(tmp_path, chat_lines(12)), marker)
    return await tuner.start(settings, request(**options), uploaded, marker)


async def poll_to_end(settings: Settings, job_id: str) -> list[PollResult]:
    """Every poll until the job ends, each with the cursor the one before returned."""
    results, cursor = [], {}
    while not results or not results[-1].state.final:
        assert len(results) < 20, "the job never ended"
        results.append(await tuner.poll(settings, job_id, cursor))
        cursor = results[-1].cursor
    return results


async def test_describes_openai_and_needs_its_key() -> None:
    assert tuner.facts is catalog.OPENAI
    assert tuner.missing_settings(Settings(openai_api_key=None)) == ["set TUNEYARD_OPENAI_API_KEY"]
    assert tuner.missing_settings(Settings(openai_api_key=SecretStr(""))) == ["set TUNEYARD_OPENAI_API_KEY"]
    assert tuner.configured(Settings(openai_api_key=SecretStr(KEY)))


async def test_check_names_each_problem() -> None:
    assert tuner.check(request(epochs=4, learning_rate=0.3, batch_size=8, extra={"suffix": "a" * 64, "seed": 7})) == []
    problems = tuner.check(
        request(epochs=0, learning_rate=-1.0, lora_rank=8, extra={"suffix": "has spaces", "seed": "7", "beta": 1})
    )
    assert [problem.split(":")[0] for problem in problems] == [
        "input.epochs",
        "input.learningRate",
        "input.loraRank",
        "input.extra.beta",
        "input.extra.suffix",
        "input.extra.seed",
    ]
    assert tuner.check(request(extra={"suffix": "a" * 65})) == [
        "input.extra.suffix: must be 1 to 64 letters, digits, '-' or '_'"
    ]


async def test_a_job_runs_to_success_reporting_each_event_once(
    stand_in: OpenAIStandIn, settings: Settings, tmp_path: Path
) -> None:
    train, validation = chat_lines(12), chat_lines(3)
    uploaded = await tuner.upload(settings, training_files(tmp_path, train, validation), "ft-1")
    assert uploaded.validation is not None
    assert (stand_in.files[uploaded.train], stand_in.files[uploaded.validation]) == (
        train.encode(),
        validation.encode(),
    )

    options = {"epochs": 2, "learning_rate": 0.5, "extra": {"suffix": "router", "seed": 7}}
    job_id = await tuner.start(settings, request(**options), uploaded, "ft-1")
    job = stand_in.jobs[job_id]
    assert job["method"]["supervised"]["hyperparameters"] == {
        "n_epochs": 2,
        "learning_rate_multiplier": 0.5,
        "batch_size": "auto",  # not given: OpenAI chooses
    }
    assert (job["metadata"], job["seed"], job["validation_file"]) == ({"tuneyard_job": "ft-1"}, 7, uploaded.validation)

    results = await poll_to_end(settings, job_id)
    assert stand_in.file_problems == []
    queued, running, succeeded = ProviderState.QUEUED, ProviderState.RUNNING, ProviderState.SUCCEEDED
    assert [r.state for r in results] == [queued, running, running, running, running, succeeded]
    assert [r.provider_status for r in results[:3]] == ["queued", "running", "running"]
    assert [[m.step for m in r.metrics] for r in results] == [[], [], [1], [2], [3], []]
    assert results[2].metrics[0] == TrainingMetric(step=1, train_loss=1.4, total_steps=3)
    assert [r.progress for r in results] == [None, None, 1 / 3, 2 / 3, 1.0, 1.0]
    messages = [event.message for r in results for event in r.events]
    assert messages == [
        f"Created fine-tuning job: {job_id}",
        f"Validating training file: {uploaded.train}",
        "Files validated, moving job to queued state",
        "Fine-tuning job started",
        f"New fine-tuned model created: ft:{MODEL}:tuneyard:router:{job_id}",
        "The job has successfully completed",
    ]
    final = results[-1]
    assert (final.model_id, final.error) == (f"ft:{MODEL}:tuneyard:router:{job_id}", None)
    assert final.trained_tokens == job["trained_tokens"] > 0
    assert [r.model_id for r in results[:-1]] == [None] * 5

    # A poll repeated after a crash, with an older cursor, reports again what came after that cursor.
    replay = await tuner.poll(settings, job_id, results[2].cursor)
    assert [m.step for m in replay.metrics] == [2, 3]
    assert len(replay.events) == 2


async def test_events_are_read_page_by_page_down_to_the_cursor(
    stand_in: OpenAIStandIn, settings: Settings, tmp_path: Path
) -> None:
    stand_in.steps = 250
    job_id = await started(settings, tmp_path)
    first = await tuner.poll(settings, job_id, {})  # queued
    async with httpx.AsyncClient(headers={"Authorization": f"Bearer {KEY}"}) as client:
        for _ in range(1 + 120):  # running, then steps 1 to 120: more new events than a page (100) holds
            (await client.get(f"{stand_in.api_url}/fine_tuning/jobs/{job_id}")).raise_for_status()
    second = await tuner.poll(settings, job_id, first.cursor)
    assert [m.step for m in second.metrics] == list(range(1, 122))  # the poll's own retrieve made step 121
    assert [e.message for e in second.events] == ["Fine-tuning job started"]
    assert second.progress == 121 / 250


async def test_a_poll_takes_the_newest_events_after_a_long_gap(
    stand_in: OpenAIStandIn, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(provider_module, "MAX_EVENTS", 5)
    stand_in.steps = 20
    job_id = await started(settings, tmp_path)
    for _ in range(10):
        result = await tuner.poll(settings, job_id, {})
    assert [m.step for m in result.metrics] == [4, 5, 6, 7, 8]
    following = await tuner.poll(settings, job_id, result.cursor)
    assert [m.step for m in following.metrics] == [9]
    assert following.cursor["step"] == 9


async def test_metrics_come_from_checkpoints_when_no_metrics_event_came(
    stand_in: OpenAIStandIn, settings: Settings, tmp_path: Path
) -> None:
    stand_in.emit_metrics = False
    results = await poll_to_end(settings, await started(settings, tmp_path))
    assert [m for r in results[:-1] for m in r.metrics] == []
    assert results[-1].metrics == [TrainingMetric(step=3, train_loss=round(2.0 * 0.7**3, 4))]
    assert results[-1].cursor["step"] == 3


async def test_find_sees_the_job_started_with_the_marker(
    stand_in: OpenAIStandIn, settings: Settings, tmp_path: Path
) -> None:
    assert await tuner.find(settings, "ft-1") is None
    uploaded = await tuner.upload(settings, training_files(tmp_path, chat_lines(12)), "ft-1")
    job_id = await tuner.start(settings, request(), uploaded, "ft-1")
    # More later jobs than one page of the listing holds: only OpenAI's metadata filter finds the first.
    later = [await tuner.start(settings, request(), uploaded, f"ft-{n}") for n in range(2, 30)]
    assert await tuner.find(settings, "ft-1") == job_id
    assert await tuner.find(settings, "ft-29") == later[-1]
    assert await tuner.find(settings, "ft-30") is None
    assert stand_in.created_jobs == 29


async def test_find_takes_only_a_job_with_the_marker_where_the_filter_is_ignored(
    stand_in: OpenAIStandIn, settings: Settings, tmp_path: Path
) -> None:
    stand_in.filter_by_metadata = False
    job_id = await started(settings, tmp_path, marker="ft-1")
    assert await tuner.find(settings, "ft-2") is None
    assert await tuner.find(settings, "ft-1") == job_id


async def test_a_failing_job_reports_the_providers_reason(
    stand_in: OpenAIStandIn, settings: Settings, tmp_path: Path
) -> None:
    job_id = await started(settings, tmp_path)
    assert (await tuner.poll(settings, job_id, {})).state is ProviderState.QUEUED
    stand_in.fail_job_with = ("server_error", "The job failed due to an internal error.")
    results = await poll_to_end(settings, job_id)
    assert (results[-1].state, results[-1].provider_status) == (ProviderState.FAILED, "failed")
    assert results[-1].error == "The job failed due to an internal error. (server_error)"
    assert results[-1].model_id is None


async def test_tuneyard_openai_chat_export_passes_openais_rules(
    stand_in: OpenAIStandIn, settings: Settings, tmp_path: Path
) -> None:
    exporter = exporter_for(ExportFormat.OPENAI_CHAT)
    train = "".join(exporter.render(frozen(n)).decode() + "\n" for n in range(10))
    uploaded = await tuner.upload(settings, training_files(tmp_path, train), "ft-1")
    job_id = await tuner.start(settings, request(), uploaded, "ft-1")
    assert (await tuner.poll(settings, job_id, {})).state is ProviderState.QUEUED  # past OpenAI's file validation
    assert stand_in.file_problems == []


async def test_a_training_file_openai_would_refuse_fails_the_job(
    stand_in: OpenAIStandIn, settings: Settings, tmp_path: Path
) -> None:
    files = training_files(tmp_path, chat_lines(9) + chat_lines(1, role="robot"))
    uploaded = await tuner.upload(settings, files, "ft-1")
    job_id = await tuner.start(settings, request(), uploaded, "ft-1")
    result = await tuner.poll(settings, job_id, {})
    assert result.state is ProviderState.FAILED
    assert result.error is not None and result.error.endswith("(invalid_training_file)")
    assert stand_in.file_problems == [
        f"{uploaded.train} line 10: messages[2].role: unrecognized role 'robot'",
        f"{uploaded.train} line 10: messages: no assistant message",
    ]


async def test_cancel_stops_a_running_job_and_ignores_an_ended_one(
    stand_in: OpenAIStandIn, settings: Settings, tmp_path: Path
) -> None:
    job_id = await started(settings, tmp_path)
    for _ in range(3):
        result = await tuner.poll(settings, job_id, {})
    assert result.state is ProviderState.RUNNING
    await tuner.cancel(settings, job_id)
    assert (await tuner.poll(settings, job_id, result.cursor)).state is ProviderState.CANCELLED
    await tuner.cancel(settings, job_id)  # OpenAI answers 400: the job has ended
    assert stand_in.requests.count(("POST", f"/v1/fine_tuning/jobs/{job_id}/cancel")) == 2
    with pytest.raises(ProviderError) as refused:
        await tuner.cancel(settings, "ftjob-unknown")
    assert not refused.value.retryable
    assert str(refused.value).startswith("OpenAI refused: 404 Could not find fine-tuning job ftjob-unknown")


async def test_a_rate_limit_is_retried_by_the_sdk(stand_in: OpenAIStandIn, settings: Settings, tmp_path: Path) -> None:
    stand_in.rate_limit_next = 1
    job_id = await started(settings, tmp_path)
    assert stand_in.requests[:3] == [("POST", "/v1/files")] * 2 + [("POST", "/v1/fine_tuning/jobs")]
    assert job_id in stand_in.jobs


async def test_a_lasting_rate_limit_is_a_retryable_error(
    stand_in: OpenAIStandIn, settings: Settings, tmp_path: Path
) -> None:
    stand_in.rate_limit_next = 100
    with pytest.raises(ProviderError) as limited:
        await tuner.find(settings, "ft-1")
    assert limited.value.retryable
    assert str(limited.value) == "OpenAI refused: 429 Rate limit reached for requests"
    assert len(stand_in.requests) == 1 + provider_module.MAX_RETRIES


async def test_a_wrong_key_is_refused_without_showing_the_key(stand_in: OpenAIStandIn, tmp_path: Path) -> None:
    wrong = "sk-wrong-77aa11bb"
    settings = Settings(openai_api_key=SecretStr(wrong), openai_base_url=stand_in.api_url)
    with pytest.raises(ProviderError) as refused:
        await tuner.upload(settings, training_files(tmp_path, chat_lines(12)), "ft-1")
    assert not refused.value.retryable
    assert str(refused.value) == "OpenAI refused: 401 Incorrect API key provided: [secret]."
    assert refused.value.__cause__ is None and refused.value.__suppress_context__  # the SDK's message quotes the key
    assert stand_in.files == {}


async def test_an_unreachable_api_is_a_retryable_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(provider_module, "MAX_RETRIES", 0)
    settings = Settings(openai_api_key=SecretStr(KEY), openai_base_url=f"http://127.0.0.1:{free_port()}/v1")
    with pytest.raises(ProviderError) as unreachable:
        await tuner.poll(settings, "ftjob-1", {})
    assert unreachable.value.retryable
    assert str(unreachable.value) == "OpenAI call failed: Connection error."


async def test_nothing_is_sent_without_a_key() -> None:
    with pytest.raises(ProviderError, match="TUNEYARD_OPENAI_API_KEY"):
        await tuner.find(Settings(openai_api_key=None), "ft-1")
