"""The rules a batch of new examples must satisfy, each named by index and field."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest

from tuneyard.core.errors import ValidationError
from tuneyard.examples.models import MAX_BATCH, MAX_JSON_BYTES, RECORDED, NewExample, batch_columns


def ok(i: int = 0, **changes: object) -> NewExample:
    example = NewExample(execution_id=f"run-{i}", user_request="write a post")
    for name, value in changes.items():
        setattr(example, name, value)
    return example


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (ok(1, quality_score=1.01), "examples[1].qualityScore: must be between 0 and 1"),
        (ok(1, quality_score=-0.1), "examples[1].qualityScore: must be between 0 and 1"),
        (ok(1, quality_score=float("nan")), "examples[1].qualityScore"),
        (ok(1, user_request="   "), "examples[1].userRequest: must not be empty"),
        (ok(1, execution_id=""), "examples[1].executionId"),
        (ok(1, execution_id="x" * 256), "examples[1].executionId"),
        (ok(1, tags=["ok", ""]), "examples[1].tags"),
        (ok(1, intent="i" * 101), "examples[1].intent"),
        (ok(1, business_state={"blob": "x" * MAX_JSON_BYTES}), "examples[1].businessState"),
        (ok(0), "examples[1].executionId: 'run-0' appears twice"),
    ],
)
def test_bad_example_is_named(bad: NewExample, message: str) -> None:
    with pytest.raises(ValidationError, match=message.replace("[", r"\[").replace("]", r"\]")):
        batch_columns([ok(0), bad, ok(2)])


def test_batch_size_is_bounded() -> None:
    with pytest.raises(ValidationError, match=f"at most {MAX_BATCH} examples per call, got {MAX_BATCH + 1}"):
        batch_columns([ok(i) for i in range(MAX_BATCH + 1)])
    with pytest.raises(ValidationError, match="at least one"):
        batch_columns([])


def test_columns_normalize_tags_and_keep_json() -> None:
    naive = datetime(2025, 12, 1, 9, 30)
    columns = dict(
        zip(
            [f.name for f in RECORDED],
            batch_columns([ok(0, tags=["b", "a", "b"], execution_plan={"steps": [1, 2]}), ok(1, created_at=naive)]),
            strict=True,
        )
    )
    assert orjson.loads(columns["tags"][0]) == ["a", "b"]
    assert columns["tags"][1] == "[]"
    assert orjson.loads(columns["execution_plan"][0]) == {"steps": [1, 2]}
    assert columns["created_at"] == [None, naive.replace(tzinfo=UTC)]
