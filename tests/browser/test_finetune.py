"""Fine-tuning and models in a real browser: the estimate before Start, a fine-tune against the OpenAI stand-in
followed to the end with its loss chart, the live job list, benchmarks side by side, set active and roll back."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import shoot
from tests.support.standins.openai_api import OpenAIStandIn
from tests.support.tuning import Tuning

GPT = "gpt-4.1-mini-2025-04-14"
ESTIMATE = """query($input: FineTuneInput!) { fineTuneEstimate(input: $input) { trainTokens billableTokens
  estimatedCostUsd blockers } }"""
CREATE = "mutation($input: CreateDatasetInput!) { createDataset(input: $input) { id name version } }"
BENCHMARK = "mutation($ids: [ID!]!, $dataset: ID!) { benchmarkModels(modelIds: $ids, datasetId: $dataset) { id } }"
JOB = "query($id: ID!) { job(id: $id) { status error result } }"
START = "mutation($input: FineTuneInput!) { startFineTune(input: $input) { id } }"


def finished(dash: Tuning, job_id: str) -> dict[str, Any]:
    """The job once it has ended, read through the API."""
    deadline = time.monotonic() + 60
    while True:
        job: dict[str, Any] = dash.reader.data(JOB, {"id": job_id})["job"]
        if job["status"] in ("SUCCEEDED", "FAILED", "CANCELLED"):
            return job
        assert time.monotonic() < deadline, job
        time.sleep(0.2)


@pytest.fixture
def openai(openai_api: OpenAIStandIn) -> Iterator[OpenAIStandIn]:
    """The stand-in, its scenario reset after the test."""
    answer = openai_api.default_answer
    yield openai_api
    openai_api.steps, openai_api.default_answer = 3, answer


def test_estimate_start_follow_and_switch_the_active_model(
    page: Page, dash: Tuning, openai: OpenAIStandIn, screenshots: Path
) -> None:
    dataset = dash.curator.data(CREATE, {"input": {
        "name": "ft-set", "where": {"tags": {"containsAll": ["prod"]}}, "validationFraction": 0.2}})["createDataset"]  # fmt: skip
    page.goto(dash.server.url + "/?view=finetune")
    form = page.get_by_role("form", name="Fine-tune")
    form.get_by_label("Provider").select_option("OPENAI")
    expect(page.get_by_role("group", name="OPENAI facts")).to_contain_text("no new fine-tunes after 2027-01-06")
    expect(page.locator("table.base-models")).to_contain_text("2027-01-14")
    form.get_by_label("Base model").select_option(GPT)
    form.get_by_label("Dataset version").select_option(dataset["id"])
    form.get_by_label("Epochs").fill("2")
    form.get_by_label("Model name").fill("dash-planner")
    expect(page.get_by_role("button", name="Start fine-tune")).to_be_disabled()  # no estimate yet
    page.get_by_role("button", name="Estimate").click()
    expected = dash.admin.data(ESTIMATE, {"input": {"datasetId": dataset["id"], "provider": "OPENAI", "baseModel": GPT,
                                                    "epochs": 2, "modelName": "dash-planner"}})["fineTuneEstimate"]  # fmt: skip
    estimate = page.get_by_role("region", name="Estimate")
    expect(estimate).to_contain_text(f"{expected['billableTokens']:,} tokens (2 epochs)")
    expect(estimate).to_contain_text(f"${expected['estimatedCostUsd']:.2f}")
    assert expected["blockers"] == []
    page.get_by_role("button", name="Start fine-tune").click()
    follow = page.get_by_role("region", name="Fine-tune progress")
    expect(follow.get_by_role("status")).to_contain_text("SUCCEEDED", timeout=60_000)
    expect(follow.get_by_role("img", name="Loss")).to_be_visible()
    expect(follow.locator("canvas")).to_have_count(1)
    shoot(page, screenshots, "4-finetune")

    # Benchmarks to compare, made through the API: the page shows them side by side. Every answer is a valid plan.
    openai.default_answer = json.dumps({"steps": [{"tool": "draft"}, {"tool": "review"}]})
    # The fine-tune registered its base model too: the one to compare with.
    models = {m["name"]: m for m in dash.reader.data("{ models { id name fineTuned } }")["models"]}
    tuned = models["dash-planner"]["id"]
    plain_name, plain = next((name, m["id"]) for name, m in models.items() if not m["fineTuned"])
    bench = dash.admin.data(BENCHMARK, {"ids": [tuned, plain], "dataset": dataset["id"]})["benchmarkModels"]["id"]
    assert finished(dash, bench)["status"] == "SUCCEEDED"

    page.get_by_role("link", name="Jobs & models").click()
    jobs = page.get_by_role("region", name="Jobs")
    expect(jobs.locator("li[data-status=SUCCEEDED]", has_text="FINE_TUNE")).to_have_count(1)
    expect(jobs.locator("li[data-status=SUCCEEDED]", has_text="BENCHMARK")).to_have_count(1)
    expect(page.get_by_role("img", name="Benchmarks (latest per model)")).to_be_visible()
    table = page.locator("table.models tbody")
    expect(table.locator("tr", has_text="dash-planner")).to_contain_text("100.0%")  # JSON valid

    active = page.get_by_test_id("active")
    page.get_by_role("button", name="Make dash-planner active").click()
    expect(active).to_contain_text("Active for orchestrator: dash-planner")
    page.get_by_role("button", name=f"Make {plain_name} active").click()
    expect(active).to_contain_text(f"Active for orchestrator: {plain_name}")
    page.get_by_label("Reason").fill("plain was worse")
    page.get_by_role("button", name="Roll back").click()
    expect(active).to_contain_text("Active for orchestrator: dash-planner")
    history = page.get_by_role("region", name="Active model").locator("tbody tr").first
    expect(history).to_contain_text("dash-planner (rollback)")
    expect(history).to_contain_text("plain was worse")
    shoot(page, screenshots, "5-jobs-models")


def test_a_running_job_is_cancelled_from_the_live_list(page: Page, dash: Tuning, openai: OpenAIStandIn) -> None:
    openai.steps = 10_000  # the stand-in's job runs until cancelled
    dataset = dash.reader.data('{ datasets(name: "ft-set") { id } }')["datasets"][0]["id"]
    page.goto(dash.server.url + "/?view=jobs")
    job = dash.admin.data(START, {"input": {"datasetId": dataset, "provider": "OPENAI", "baseModel": GPT}})
    job_id = job["startFineTune"]["id"]
    row = page.locator(f"li[data-job='{job_id}']")
    expect(row).to_have_attribute("data-status", "RUNNING", timeout=30_000)  # seen live, without a reload
    row.get_by_role("button", name=f"Cancel job {job_id}").click()
    expect(row).to_have_attribute("data-status", "CANCELLED", timeout=30_000)
    expect(row.locator("details ol")).to_contain_text("CANCELLED")
