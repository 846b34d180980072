"""The estimate's arithmetic, warnings and blockers, checked against figures worked out here by hand."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

import pytest

from tuneyard.datasets.exports.models import MAX_LARGEST, TokenCounts
from tuneyard.datasets.models import Dataset, ExportFormat
from tuneyard.finetunes.models import Calibration, estimate, model_name
from tuneyard.providers import catalog
from tuneyard.providers.models import FineTuneRequest, Provider

TODAY = date(2026, 11, 30)
DATASET = Dataset(
    id=7, name="planner", version=3, description=None, filter={}, validation_fraction=0.1, seed=0,
    example_count=1_000, train_count=900, validation_count=100, avg_quality_score=0.8, content_hash="x",
    is_current=True, created_at=datetime(2026, 11, 1, tzinfo=UTC), deleted_at=None,
)  # fmt: skip
OPENAI_MODELS = list(catalog.OPENAI.base_models)
TOKENS = TokenCounts("t", train=450_000, validation=50_000, largest=[70_000, 66_000, 65_536, 900])


def request(
    provider: Provider = Provider.OPENAI, base: str = "gpt-4.1-mini-2025-04-14", **more: object
) -> FineTuneRequest:
    return FineTuneRequest(dataset_id="7", provider=provider, base_model=base, **more)  # type: ignore[arg-type]


def test_openai_figures() -> None:
    found = estimate(catalog.OPENAI, OPENAI_MODELS, request(epochs=2), DATASET, TOKENS, TODAY, [])
    # 450,000 training tokens x 2 epochs = 900,000 billable; at $5.00 per million: $4.50.
    assert (found.train_examples, found.validation_examples) == (900, 100)
    assert (found.train_tokens, found.validation_tokens, found.epochs) == (450_000, 50_000, 2)
    assert found.billable_tokens == 900_000
    assert found.estimated_cost_usd == pytest.approx(4.50)
    assert found.prices_as_of == date(2025, 6, 1)
    assert found.export_format is ExportFormat.OPENAI_CHAT
    # 600 s of queueing plus 900,000 tokens at 2,000 per second.
    assert found.estimated_seconds == pytest.approx(600 + 450)
    assert found.blockers == []
    # Two examples exceed the 65,536-token context (65,536 itself fits); the base model shuts down 2027-01-14,
    # 45 days after TODAY.
    assert any(w.startswith("2 examples have more than 65,536 tokens") for w in found.warnings), found.warnings
    assert any("shuts down on 2027-01-14, in 45 days" in w for w in found.warnings), found.warnings


def test_epochs_default_to_the_providers_and_say_so() -> None:
    found = estimate(catalog.OPENAI, OPENAI_MODELS, request(), DATASET, TOKENS, TODAY, [])
    assert (found.epochs, found.billable_tokens) == (3, 1_350_000)
    assert found.estimated_cost_usd == pytest.approx(6.75)
    assert "epochs not given: OPENAI chooses; estimated with 3" in found.warnings


def test_vertex_figures() -> None:
    found = estimate(catalog.GEMINI_VERTEX, list(catalog.GEMINI_VERTEX.base_models), request(Provider.GEMINI_VERTEX, "gemini-2.5-flash", epochs=4), DATASET,
                     TOKENS, TODAY, [])  # fmt: skip
    assert found.billable_tokens == 1_800_000
    assert found.estimated_cost_usd == pytest.approx(9.00)  # $5.00 per million
    assert found.export_format is ExportFormat.GEMINI_VERTEX
    assert found.blockers == []
    assert not any("tokens, the most" in w for w in found.warnings)  # 131,072-token context: all fit


def test_openai_closes_after_the_sixth_of_january_2027() -> None:
    open_day = estimate(catalog.OPENAI, OPENAI_MODELS, request(epochs=1), DATASET, TOKENS, date(2027, 1, 6), [])
    assert not any("no new fine-tuning jobs" in b for b in open_day.blockers)
    closed = estimate(catalog.OPENAI, OPENAI_MODELS, request(epochs=1), DATASET, TOKENS, date(2027, 1, 7), [])
    assert "OPENAI takes no new fine-tuning jobs after 2027-01-06 (today is 2027-01-07)" in closed.blockers


def test_shut_down_base_model_blocks() -> None:
    found = estimate(catalog.OPENAI, OPENAI_MODELS, request(epochs=1), DATASET, TOKENS, date(2027, 1, 14), [])
    assert "gpt-4.1-mini-2025-04-14 was shut down on 2027-01-14" in found.blockers


def test_anthropic_cannot_fine_tune() -> None:
    found = estimate(catalog.ANTHROPIC, list(catalog.ANTHROPIC.base_models), request(Provider.ANTHROPIC, "claude-3-haiku-20240307"), DATASET, TOKENS,
                     TODAY, [])  # fmt: skip
    assert catalog.ANTHROPIC_NO_FINE_TUNING in found.blockers
    assert found.estimated_cost_usd is None


def test_unconfigured_unknown_model_few_examples_deleted() -> None:
    small = replace(DATASET, example_count=8, train_count=8, validation_count=0,
                    deleted_at=datetime(2026, 11, 2, tzinfo=UTC))  # fmt: skip
    found = estimate(
        catalog.OPENAI,
        OPENAI_MODELS,
        request(base="gpt-5", epochs=1),
        small,
        TOKENS,
        TODAY,
        ["set TUNEYARD_OPENAI_API_KEY"],
    )
    assert found.blockers == [
        "OPENAI is not configured: set TUNEYARD_OPENAI_API_KEY",
        "OPENAI cannot fine-tune gpt-5 (its base models that can: gpt-4.1-mini-2025-04-14, gpt-4.1-2025-04-14, "
        "gpt-4.1-nano-2025-04-14, gpt-4o-mini-2024-07-18, gpt-4o-2024-08-06)",
        "dataset planner v3 is deleted",
        "OPENAI needs at least 10 training examples; this version has 8",
    ]
    assert "only 8 training examples: 100 or more teach a model far more" in found.warnings
    assert any(w.startswith("no validation split") for w in found.warnings)
    assert found.estimated_cost_usd is None  # no price for an unknown model


def test_exactly_ten_and_a_hundred_examples_pass_their_thresholds() -> None:
    ten = replace(DATASET, train_count=10)
    assert not any(
        "at least 10" in b
        for b in estimate(catalog.OPENAI, OPENAI_MODELS, request(epochs=1), ten, TOKENS, TODAY, []).blockers
    )
    hundred = replace(DATASET, train_count=100)
    warnings = estimate(catalog.OPENAI, OPENAI_MODELS, request(epochs=1), hundred, TOKENS, TODAY, []).warnings
    assert not any(w.startswith("only") for w in warnings)


def test_examples_over_context_beyond_the_kept_counts_say_at_least() -> None:
    everything_big = TokenCounts("t", 10**9, 0, [100_000] * MAX_LARGEST)
    found = estimate(catalog.OPENAI, OPENAI_MODELS, request(epochs=1), DATASET, everything_big, TODAY, [])
    assert (
        f"at least {MAX_LARGEST} examples have more than 65,536 tokens, the most gpt-4.1-mini-2025-04-14 trains on: "
        "the provider skips or refuses them" in found.warnings
    )


def test_derived_model_name() -> None:
    assert model_name(DATASET, "gpt-4.1-mini-2025-04-14") == "planner-v3-gpt-4.1-mini-2025-04-14"


def test_a_local_estimate_takes_its_duration_and_memory_from_the_calibration() -> None:
    measured = Calibration(load_seconds=20.0, seconds_per_step=1.2, peak_memory_bytes=2_000_000_000, steps=200)
    local = request(Provider.LOCAL, catalog.SMOLLM2, epochs=1)
    found = estimate(catalog.LOCAL, list(catalog.LOCAL.base_models), local, DATASET, TOKENS, TODAY, [], measured)
    assert found.estimated_seconds == pytest.approx(20 + 200 * 1.2)
    assert (found.steps, found.estimated_peak_memory_bytes) == (200, 2_000_000_000)
    assert (found.estimated_cost_usd, found.blockers, found.export_format) == (None, [], ExportFormat.OPENAI_CHAT)
    missing = estimate(catalog.LOCAL, [], local, DATASET, TOKENS, TODAY, ["install the [local] extra"], None)
    assert "LOCAL is not configured: install the [local] extra" in missing.blockers
    assert missing.estimated_seconds is None and missing.steps is None
