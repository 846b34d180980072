"""How a benchmark scores a model's answers against the recorded plans (pure functions).

- JSON-valid: the answer, stripped of whitespace and of one surrounding Markdown code fence (```json ... ```),
  parses as JSON.
- Exact match: that JSON equals the recorded plan (objects compared by keys, so key order does not matter).
- Step F1: the plans' steps (the "steps" list of an object that has one; the items of a list; else the whole
  plan as one step), each compared as canonical JSON, as multisets: F1 = 2PR/(P+R) with P = matched/answer steps
  and R = matched/recorded steps; 0 for an invalid answer.
- Latency: p50 and p95 over the calls that answered, by linear interpolation between the closest ranks (0 when no
  call answered: `failures` then equals the example count).
- A call that failed (a provider error) counts as an invalid answer with F1 0 and no latency.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

_INVALID = object()


@dataclass(frozen=True, slots=True)
class Score:
    valid: bool
    exact: bool
    step_f1: float
    seconds: float | None  # None: the call failed
    input_tokens: int
    output_tokens: int


@dataclass(frozen=True, slots=True)
class Summary:
    example_count: int
    failures: int
    json_valid_rate: float
    plan_exact_match: float
    step_f1: float
    latency_p50_ms: float
    latency_p95_ms: float
    input_tokens: int
    output_tokens: int
    cost_usd: float | None


def parse(text: str) -> Any:
    """The answer's JSON, or _INVALID."""
    body = text.strip()
    if body.startswith("```") and body.endswith("```") and len(body) >= 6:
        body = body[3:-3].strip()
        body = body.removeprefix("json").strip() if body.startswith("json") else body
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return _INVALID


def _canonical(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


def steps(plan: Any) -> Counter[str]:
    if isinstance(plan, dict) and isinstance(plan.get("steps"), list):
        items = plan["steps"]
    elif isinstance(plan, list):
        items = plan
    else:
        items = [plan]
    return Counter(_canonical(item) for item in items)


def f1(answer: Counter[str], recorded: Counter[str]) -> float:
    matched = sum((answer & recorded).values())
    if matched == 0:
        return 0.0
    precision, recall = matched / sum(answer.values()), matched / sum(recorded.values())
    return 2 * precision * recall / (precision + recall)


def score(answer: str | None, recorded_plan: str | None, seconds: float | None, tokens: tuple[int, int]) -> Score:
    """One example: the model's answer (None: the call failed) against the recorded plan (JSON text)."""
    parsed = _INVALID if answer is None else parse(answer)
    if parsed is _INVALID:
        return Score(False, False, 0.0, seconds, *tokens)
    recorded = None if recorded_plan is None else orjson.loads(recorded_plan)
    return Score(True, parsed == recorded, f1(steps(parsed), steps(recorded)), seconds, *tokens)


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) by linear interpolation between closest ranks; 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summarize(scores: Sequence[Score], input_price: float | None, output_price: float | None) -> Summary:
    """A model's figures over its scored examples; cost from USD-per-million prices (None when unknown)."""
    count = len(scores)
    latencies = [s.seconds * 1000 for s in scores if s.seconds is not None]
    tokens_in, tokens_out = sum(s.input_tokens for s in scores), sum(s.output_tokens for s in scores)
    cost = None
    if input_price is not None and output_price is not None:
        cost = (tokens_in * input_price + tokens_out * output_price) / 1_000_000
    return Summary(
        example_count=count, failures=sum(1 for s in scores if s.seconds is None),
        json_valid_rate=sum(s.valid for s in scores) / count if count else 0.0,
        plan_exact_match=sum(s.exact for s in scores) / count if count else 0.0,
        step_f1=sum(s.step_f1 for s in scores) / count if count else 0.0,
        latency_p50_ms=percentile(latencies, 50), latency_p95_ms=percentile(latencies, 95),
        input_tokens=tokens_in, output_tokens=tokens_out, cost_usd=cost,
    )  # fmt: skip
