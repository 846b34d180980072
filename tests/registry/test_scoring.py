"""Benchmark scoring, checked against figures worked out by hand and the standard library's quantiles."""

from __future__ import annotations

import statistics

import pytest

from tuneyard.registry.scoring import Score, f1, parse, percentile, score, steps, summarize

PLAN = '{"steps": [{"tool": "draft"}, {"tool": "review"}, {"tool": "linkedin"}]}'


def test_an_answer_is_json_when_it_parses_bare_or_in_one_code_fence() -> None:
    assert parse(' {"a": 1} ') == {"a": 1}
    assert parse('```json\n{"a": 1}\n```') == {"a": 1}
    assert parse("```\n[1, 2]\n```") == [1, 2]
    assert parse("Here is the plan: {}") is parse("not json")  # both the invalid marker


def test_exact_match_ignores_key_order_and_step_f1_counts_matching_steps() -> None:
    same = score('{"steps": [{"tool": "draft"}, {"tool": "review"}, {"tool": "linkedin"}]}', PLAN, 0.1, (3, 4))
    assert (same.valid, same.exact, same.step_f1) == (True, True, 1.0)
    reordered_keys = score('{"steps": [{"tool": "draft"}, {"tool": "review"}, {"tool": "linkedin"}], "x": 1}', PLAN,
                           0.1, (0, 0))  # fmt: skip
    assert (reordered_keys.exact, reordered_keys.step_f1) == (False, 1.0)
    # Two of the answer's three steps are recorded (P = 2/3), two of three recorded found (R = 2/3): F1 = 2/3.
    partial = score('{"steps": [{"tool": "draft"}, {"tool": "publish"}, {"tool": "linkedin"}]}', PLAN, 0.1, (0, 0))
    assert partial.step_f1 == pytest.approx(2 / 3)
    # One step answered, and it is recorded: P = 1, R = 1/3, F1 = 2 * 1/3 / (4/3) = 0.5.
    assert score('[{"tool": "review"}]', PLAN, 0.1, (0, 0)).step_f1 == pytest.approx(0.5)
    assert score("nope", PLAN, 0.1, (0, 0)) == Score(False, False, 0.0, 0.1, 0, 0)
    failed = score(None, PLAN, None, (0, 0))
    assert (failed.valid, failed.step_f1, failed.seconds) == (False, 0.0, None)


def test_steps_are_compared_as_multisets() -> None:
    assert f1(steps([1, 1, 2]), steps([1, 2, 2])) == pytest.approx(2 / 3)
    assert steps({"no": "steps"}) == steps([{"no": "steps"}])  # a plan without a steps list is one step


def test_percentiles_match_the_standard_librarys_inclusive_method() -> None:
    values = [12.0, 3.0, 7.5, 40.0, 22.0, 9.0, 15.0]
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    assert percentile(values, 50) == pytest.approx(cuts[49])
    assert percentile(values, 95) == pytest.approx(cuts[94])
    assert percentile([5.0], 95) == 5.0 and percentile([], 50) == 0.0


def test_a_summary_counts_failures_as_wrong_and_prices_tokens() -> None:
    scores = [
        score(PLAN, PLAN, 0.100, (1000, 100)),
        score('{"steps": []}', PLAN, 0.300, (1000, 50)),
        score(None, PLAN, None, (0, 0)),
        score("text", PLAN, 0.200, (500, 20)),
    ]
    summary = summarize(scores, input_price=0.80, output_price=3.20)
    assert (summary.example_count, summary.failures) == (4, 1)
    assert summary.json_valid_rate == pytest.approx(2 / 4) and summary.plan_exact_match == pytest.approx(1 / 4)
    assert summary.step_f1 == pytest.approx(1 / 4)
    assert summary.latency_p50_ms == pytest.approx(200.0)  # 100, 200, 300 ms answered
    assert (summary.input_tokens, summary.output_tokens) == (2500, 170)
    assert summary.cost_usd == pytest.approx((2500 * 0.80 + 170 * 3.20) / 1_000_000)
    assert summarize(scores, None, None).cost_usd is None
