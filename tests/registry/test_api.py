"""The registry through the public API: register, activate, roll back, retire; and a benchmark of four models on
one version's validation split through the providers' real SDKs against stand-ins, checked against an independent
scoring of what each stand-in was told to answer."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from tests.finetunes.test_api import final_job
from tests.support.standins.anthropic_api import AnthropicStandIn
from tests.support.standins.env import TINY
from tests.support.standins.ollama_api import OllamaStandIn
from tests.support.standins.openai_api import OpenAIStandIn
from tests.support.tuning import Tuning

REGISTER = """mutation($input: RegisterModelInput!) { registerModel(input: $input) {
  id name provider providerModelId baseModel fineTuned status shutdownAt } }"""
ACTIVE = """query($purpose: String!) { activeModel(purpose: $purpose) { purpose since model { id } fallbacks { id }
  history(first: 10) { model { id } previous { id } changedBy reason rollback } } }"""
SET = """mutation($id: ID!, $purpose: String!, $reason: String) {
  setActiveModel(modelId: $id, purpose: $purpose, reason: $reason) { model { id } } }"""
ROLLBACK = 'mutation($purpose: String!) { rollbackActiveModel(purpose: $purpose, reason: "bad day") { model { id } } }'
BENCHMARKS = """query($dataset: ID!) { benchmarks(datasetId: $dataset) { model { id name } dataset { id } job { id }
  exampleCount failures jsonValidRate planExactMatch stepF1 latencyP50Ms latencyP95Ms inputTokens outputTokens costUsd } }"""


def register(tuning: Tuning, name: str, provider: str, model_id: str) -> dict[str, Any]:
    """The model registered under that id: registered now, or already (a fine-tune registers its base model)."""
    body = tuning.admin.execute(REGISTER, {"input": {"name": name, "provider": provider, "providerModelId": model_id}})
    if "errors" not in body:
        data: dict[str, Any] = body["data"]["registerModel"]
        return data
    assert body["errors"][0]["extensions"]["code"] == "CONFLICT", body
    listed = tuning.reader.data(
        "query($p: Provider) { models(provider: $p, includeRetired: true) { id name provider providerModelId "
        "baseModel fineTuned status shutdownAt } }", {"p": provider},
    )["models"]  # fmt: skip
    return next(m | {"name": name} for m in listed if m["providerModelId"] == model_id and not m["fineTuned"])


def test_register_activate_roll_back_and_retire(tuning: Tuning) -> None:
    purpose = "test-registry"
    denied = tuning.curator.error(REGISTER, {"input": {"name": "x", "provider": "OPENAI", "providerModelId": "x"}})
    assert denied["extensions"]["code"] == "FORBIDDEN"
    mini = register(tuning, "gpt mini", "OPENAI", "gpt-4.1-mini-2025-04-14")
    assert (mini["baseModel"], mini["fineTuned"], mini["shutdownAt"]) == (
        "gpt-4.1-mini-2025-04-14",
        False,
        "2027-01-14",
    )
    claude = register(tuning, "claude", "ANTHROPIC", "claude-sonnet-4-5")
    assert tuning.reader.data(ACTIVE, {"purpose": purpose})["activeModel"] is None
    tuning.admin.data(SET, {"id": mini["id"], "purpose": purpose, "reason": "start"})
    tuning.admin.data(SET, {"id": claude["id"], "purpose": purpose, "reason": "benchmarks"})
    back = tuning.admin.data(ROLLBACK, {"purpose": purpose})["rollbackActiveModel"]
    assert back["model"]["id"] == mini["id"]
    active = tuning.reader.data(ACTIVE, {"purpose": purpose})["activeModel"]
    assert [h["model"]["id"] for h in active["history"]] == [mini["id"], claude["id"], mini["id"]]
    assert active["history"][0] == {"model": {"id": mini["id"]}, "previous": {"id": claude["id"]},
                                    "changedBy": "ft ADMIN", "reason": "bad day", "rollback": True}  # fmt: skip
    assert active["fallbacks"] == [{"id": claude["id"]}]
    assert tuning.reader.error(SET, {"id": claude["id"], "purpose": purpose})["extensions"]["code"] == "FORBIDDEN"
    retired = tuning.admin.data("mutation($id: ID!) { retireModel(id: $id) { status retiredAt } }",
                                {"id": claude["id"]})["retireModel"]  # fmt: skip
    assert retired["status"] == "RETIRED" and retired["retiredAt"]
    refused = tuning.admin.error(SET, {"id": claude["id"], "purpose": purpose})
    assert refused["extensions"]["code"] == "CONFLICT" and "is retired" in refused["message"]
    listed = tuning.reader.data("{ models { id } all: models(includeRetired: true) { id } }")
    assert claude["id"] not in [m["id"] for m in listed["models"]] and claude["id"] in [m["id"] for m in listed["all"]]
    changes = tuning.reader.data("query($id: ID!) { model(id: $id) { activeModelChanges { reason } } }",
                                 {"id": claude["id"]})["model"]["activeModelChanges"]  # fmt: skip
    assert [c["reason"] for c in changes] == ["bad day", "benchmarks"]


def _validation_chats(tuning: Tuning, dataset_id: str) -> list[tuple[str, str]]:
    """(user text, recorded plan) of each validation example, read from the version's OPENAI_CHAT export."""
    job = tuning.curator.data("mutation($id: ID!) { exportDataset(id: $id, format: OPENAI_CHAT) { id } }",
                              {"id": dataset_id})["exportDataset"]  # fmt: skip
    (file,) = [f for f in final_job(tuning, job["id"])["result"]["exports"] if f["split"] == "VALIDATION"]
    lines = tuning.reader.http.get(file["downloadUrl"]).raise_for_status().content.splitlines()
    chats = []
    for line in lines:
        messages = {m["role"]: m["content"] for m in orjson.loads(line)["messages"]}
        chats.append((messages["user"], messages["assistant"]))
    return chats


def test_a_benchmark_scores_each_model_and_compares_them(
    tuning: Tuning, openai_api: OpenAIStandIn, anthropic_api: AnthropicStandIn, ollama_api: OllamaStandIn
) -> None:
    dataset = tuning.dataset(24, validation_fraction=0.5)
    chats = _validation_chats(tuning, dataset["id"])
    n = len(chats)
    assert n == dataset["validationCount"] and n >= 6
    # OpenAI answers every plan right; Claude answers every other one right and the rest in prose, and its first
    # call fails (the provider overloaded, beyond the SDK's retries); Ollama answers a plan with one step changed.
    openai_api.answers.update(dict(chats))
    for i, (user, plan) in enumerate(chats):
        anthropic_api.answers[user] = plan if i % 2 == 0 else "Sure! Draft it, then post it."
        changed = orjson.loads(plan)
        changed["steps"][0] = {"tool": "other"}
        ollama_api.answers[user] = orjson.dumps(changed).decode()
    anthropic_api.fail_next = 3  # the SDK's first try and its 2 retries: the first example's call fails
    models = [
        register(tuning, "gpt", "OPENAI", "gpt-4o-mini-2024-07-18"),
        register(tuning, "claude 3 haiku", "ANTHROPIC", "claude-3-haiku-20240307"),
        register(tuning, "llama", "OLLAMA", "llama3.2:1b"),
        register(tuning, "tiny", "LOCAL", TINY),
    ]
    job = tuning.admin.data("mutation($m: [ID!]!, $d: ID!) { benchmarkModels(modelIds: $m, datasetId: $d) { id } }",
                            {"m": [m["id"] for m in models], "d": dataset["id"]})["benchmarkModels"]  # fmt: skip
    final = final_job(tuning, job["id"], within=120)
    assert final["status"] == "SUCCEEDED", final
    assert [m["done"] for m in final["result"]["models"]] == [n] * 4
    found = {r["model"]["id"]: r for r in tuning.reader.data(BENCHMARKS, {"dataset": dataset["id"]})["benchmarks"]}
    gpt, claude, llama, tiny = (found[m["id"]] for m in models)
    assert (gpt["jsonValidRate"], gpt["planExactMatch"], gpt["stepF1"], gpt["failures"]) == (1.0, 1.0, 1.0, 0)
    assert gpt["costUsd"] == pytest.approx((gpt["inputTokens"] * 0.30 + gpt["outputTokens"] * 1.20) / 1_000_000)
    assert gpt["inputTokens"] > 0 and gpt["latencyP95Ms"] >= gpt["latencyP50Ms"] > 0
    # Claude: the first example's call failed (wrong), then even-numbered examples right, odd ones prose.
    right = sum(1 for i in range(1, n) if i % 2 == 0)
    assert claude["failures"] == 1
    assert claude["planExactMatch"] == pytest.approx(right / n) and claude["jsonValidRate"] == pytest.approx(right / n)
    assert claude["costUsd"] == pytest.approx((claude["inputTokens"] * 0.25 + claude["outputTokens"] * 1.25) / 1e6)
    # Ollama: every plan valid, none exact; each keeps 2 of its 3 steps: P = R = 2/3.
    assert (llama["jsonValidRate"], llama["planExactMatch"]) == (1.0, 0.0)
    assert llama["stepF1"] == pytest.approx(2 / 3) and llama["costUsd"] is None
    assert tiny["exampleCount"] == n and tiny["failures"] == 0 and tiny["outputTokens"] > 0  # a real model answered
    ranked = [r["model"]["id"] for r in tuning.reader.data(BENCHMARKS, {"dataset": dataset["id"]})["benchmarks"]]
    assert ranked[0] == models[0]["id"], "best exact match first"
