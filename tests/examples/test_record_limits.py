"""Both sides of every rule a recorded example must satisfy: the value at the limit is stored, one past it is refused
naming `examples[i].field`, and so are blank, NUL-holding and non-finite values."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import orjson
import pytest

from tuneyard.core.errors import ValidationError
from tuneyard.examples.models import RECORDED, NewExample, batch_columns, normalize_tags

NAMES = [f.name for f in RECORDED]


def ok(i: int = 0, **changes: Any) -> NewExample:
    example = NewExample(execution_id=f"run-{i}", user_request="write a post")
    for name, value in changes.items():
        setattr(example, name, value)
    return example


def stored(**changes: Any) -> dict[str, Any]:
    """The columns of a one-example batch, by field name: the example was accepted."""
    return {name: column[0] for name, column in zip(NAMES, batch_columns([ok(**changes)]), strict=True)}


def refused(field: str, **changes: Any) -> str:
    """The message of the batch refused because of example 1's `field`."""
    with pytest.raises(ValidationError) as raised:
        batch_columns([ok(0), ok(1, **changes), ok(2)])
    assert raised.value.message.startswith(f"examples[1].{field}: "), raised.value.message
    return raised.value.message


def test_quality_score_from_0_to_1_inclusive() -> None:
    for score in (0.0, 1.0, 0.5, 0, 1):
        assert stored(quality_score=score)["quality_score"] == score
    assert stored()["quality_score"] is None
    for score in (-0.001, 1.001, float("nan"), float("inf"), float("-inf")):
        assert "must be between 0 and 1" in refused("qualityScore", quality_score=score)


def test_execution_id_of_1_to_255_characters_not_blank() -> None:
    for value in ("x", "x" * 255, " padded "):
        assert stored(execution_id=value)["execution_id"] == value
    for value in ("", "   ", "\t\n", "x" * 256):
        assert "must be 1..255 characters and not blank" in refused("executionId", execution_id=value)


def test_user_request_up_to_32768_characters_not_blank() -> None:
    assert stored(user_request="x" * 32_768)["user_request"] == "x" * 32_768
    assert stored(user_request="a")["user_request"] == "a"
    assert "at most 32768 characters" in refused("userRequest", user_request="x" * 32_769)
    for value in ("", "  ", "\n\t"):
        assert "must not be empty" in refused("userRequest", user_request=value)


@pytest.mark.parametrize(("attribute", "field"), [("intent", "intent"), ("platform", "platform")])
def test_intent_and_platform_up_to_100_characters(attribute: str, field: str) -> None:
    assert stored(**{attribute: "i" * 100})[attribute] == "i" * 100
    assert stored(**{attribute: None})[attribute] is None
    assert "at most 100 characters" in refused(field, **{attribute: "i" * 101})


def test_model_id_up_to_255_characters_not_blank_or_null() -> None:
    assert stored(model_id="m" * 255)["model_id"] == "m" * 255
    assert stored(model_id=None)["model_id"] is None
    for value in ("", " ", "m" * 256):
        assert "must be 1..255 characters and not blank (or null)" in refused("modelId", model_id=value)


def test_up_to_100_tags_of_1_to_100_characters_kept_as_a_sorted_set() -> None:
    many = [f"t{i:03}" for i in range(100)]
    assert orjson.loads(stored(tags=many)["tags"]) == many
    assert orjson.loads(stored(tags=["b", "a", "b", "t" * 100])["tags"]) == ["a", "b", "t" * 100]
    assert stored(tags=[])["tags"] == "[]" and stored(tags=None)["tags"] == "[]"
    assert "at most 100 tags, got 101" in refused("tags", tags=[*many, "extra"])
    for tag in ("", "  ", "t" * 101):
        assert "each tag must be 1..100 characters and not blank" in refused("tags", tags=["fine", tag])
    assert "NUL" in refused("tags", tags=["fine", "a\x00"])


def test_normalize_tags_for_tag_operations() -> None:
    assert normalize_tags(["b", "a", "b"], "add") == ["a", "b"]
    assert normalize_tags(None, "add") == [] and normalize_tags([], "add") == []
    assert normalize_tags(["t" * 100] * 100, "add") == ["t" * 100]
    with pytest.raises(ValidationError, match=r"^add: at most 100 tags, got 101"):
        normalize_tags(["t"] * 101, "add")
    for tag in (" ", "t" * 101):
        with pytest.raises(ValidationError, match=r"^remove: each tag must be 1..100 characters"):
            normalize_tags([tag], "remove")
    with pytest.raises(ValidationError, match=r"^add: must not contain the NUL character"):
        normalize_tags(["\x00x"], "add")


def test_patterns_up_to_100_labels_of_at_most_100_characters() -> None:
    patterns = [f"p{i}" for i in range(99)] + ["p" * 100]
    assert orjson.loads(stored(patterns_discovered=patterns)["patterns_discovered"]) == patterns
    assert stored(patterns_discovered=[])["patterns_discovered"] == "[]"
    assert stored(patterns_discovered=None)["patterns_discovered"] is None
    assert "at most 100 items, got 101" in refused("patternsDiscovered", patterns_discovered=[*patterns, "x"])
    assert "at most 100 characters" in refused("patternsDiscovered", patterns_discovered=["p" * 101])
    assert "NUL" in refused("patternsDiscovered", patterns_discovered=["a\x00"])


@pytest.mark.parametrize(
    ("attribute", "field"),
    [("execution_id", "executionId"), ("user_request", "userRequest"), ("intent", "intent"),
     ("platform", "platform"), ("model_id", "modelId")],
)  # fmt: skip
def test_nul_is_refused_in_every_text_field(attribute: str, field: str) -> None:
    assert "must not contain the NUL character (U+0000)" in refused(field, **{attribute: "a\x00b"})


def test_json_fields_up_to_262144_bytes_nested_up_to_64_levels() -> None:
    at_limit = {"b": "x" * (262_144 - len('{"b":""}'))}
    assert len(stored(business_state=at_limit)["business_state"]) == 262_144
    past = {"b": "x" * (262_145 - len('{"b":""}'))}
    assert "262145 bytes of JSON, at most 262144 allowed" in refused("businessState", business_state=past)
    deep: Any = {"leaf": 1}
    for _ in range(63):
        deep = {"next": deep}
    assert orjson.loads(stored(execution_plan=deep)["execution_plan"]) == deep
    assert "nest more than 64 levels" in refused("executionPlan", execution_plan={"next": deep})
    assert "nest more than 64 levels" in refused("executionResult", execution_result=[[[[[[[[[[[deep]]]]]]]]]]])
    wide = {f"k{i}": [[1]] for i in range(40)}  # many brackets, shallow: kept
    assert orjson.loads(stored(execution_result=wide)["execution_result"]) == wide
    # 64 levels deep and more than 64 brackets in all: walked level by level, and kept.
    walked = {"deep": deep["next"], **{f"k{i}": [i] for i in range(5)}}
    assert orjson.loads(stored(execution_plan=walked)["execution_plan"]) == walked
    assert "nest more than 64 levels" in refused("executionPlan", execution_plan={"deep": deep, "k": [[1]]})


def test_json_text_keeps_escaped_backslashes_and_refuses_nul() -> None:
    literal = {"text": "\\u0000 is how JSON spells NUL"}
    assert orjson.loads(stored(business_state=literal)["business_state"]) == literal
    assert "NUL" in refused("businessState", business_state={"text": "a\x00b"})
    assert "NUL" in refused("postPublicationMetrics", post_publication_metrics={"k": ["\\\x00"]})


def test_created_at_without_a_zone_is_utc_and_stays_within_1900_to_9999() -> None:
    naive = datetime(2025, 12, 1, 9, 30)
    assert stored(created_at=naive)["created_at"] == naive.replace(tzinfo=UTC)
    zoned = datetime(2025, 12, 1, 9, 30, tzinfo=timezone(timedelta(hours=2)))
    assert stored(created_at=zoned)["created_at"] == zoned
    assert stored(created_at=None)["created_at"] is None
    assert stored(created_at=datetime(1900, 1, 1, tzinfo=UTC))["created_at"] == datetime(1900, 1, 1, tzinfo=UTC)
    for moment in (
        datetime(1899, 12, 31, 23, 59, 59),
        datetime(9999, 12, 31, 23, 0, tzinfo=timezone(timedelta(hours=-5))),
    ):
        assert "between 1900-01-01T00:00:00Z and 9999-12-31T23:59:59Z" in refused("createdAt", created_at=moment)


def test_batches_of_1_to_1000_examples() -> None:
    assert len(batch_columns([ok(i) for i in range(1000)])[0]) == 1000
    assert len(batch_columns([ok(0)])[0]) == 1
    with pytest.raises(ValidationError, match=r"^examples: at most 1000 examples per call, got 1001$"):
        batch_columns([ok(i) for i in range(1001)])
    with pytest.raises(ValidationError, match=r"^examples: send at least one example$"):
        batch_columns([])


def test_a_repeated_execution_id_names_the_second_and_the_first() -> None:
    with pytest.raises(
        ValidationError, match=r"^examples\[2\].executionId: 'run-0' appears twice in the batch \(also at index 0\)"
    ):
        batch_columns([ok(0), ok(1), ok(0)])


def test_columns_are_in_recorded_order_one_row_per_example() -> None:
    columns = batch_columns([ok(0, intent="a", quality_score=0.25), ok(1, platform="blog", success=False)])
    by_name = dict(zip(NAMES, columns, strict=True))
    assert by_name["execution_id"] == ["run-0", "run-1"] and by_name["user_request"] == ["write a post"] * 2
    assert by_name["intent"] == ["a", None] and by_name["platform"] == [None, "blog"]
    assert by_name["quality_score"] == [0.25, None] and by_name["success"] == [None, False]


@pytest.mark.parametrize(
    ("attribute", "field", "value", "kind"),
    [
        ("business_state", "businessState", [1], "must be an object (or null), got an array"),
        ("post_publication_metrics", "postPublicationMetrics", [], "must be an object (or null), got an array"),
        ("execution_plan", "executionPlan", "plan", "must be an object or an array (or null), got a string"),
        ("execution_result", "executionResult", 3, "must be an object or an array (or null), got a number"),
        ("execution_result", "executionResult", 2.5, "must be an object or an array (or null), got a number"),
        ("business_state", "businessState", True, "must be an object (or null), got a boolean"),
    ],
)
def test_json_fields_have_their_shape(attribute: str, field: str, value: Any, kind: str) -> None:
    assert refused(field, **{attribute: value}).endswith(f": {kind}")


def test_plans_and_results_may_be_lists_states_and_metrics_objects() -> None:
    assert stored(execution_plan=[{"tool": "draft"}])["execution_plan"] == '[{"tool":"draft"}]'
    assert stored(execution_result=[])["execution_result"] == "[]"
    assert stored(business_state={})["business_state"] == "{}"
    assert stored(post_publication_metrics={"a": [1]})["post_publication_metrics"] == '{"a":[1]}'


def test_integers_within_2_to_the_53_on_both_sides() -> None:
    edge = {"a": 2**53, "b": [-(2**53)], "big": 1e300, "flag": True, "digits": "12345678901234567890"}
    assert orjson.loads(stored(business_state=edge)["business_state"]) == edge
    message = refused("businessState", business_state={"a": {"b": [0, 1, 2**53 + 1]}})
    assert message.endswith(f": integer at a.b[2] = {2**53 + 1} is outside +-2^53 (JSON readers would round it); "
                            "send it as a string")  # fmt: skip
    assert f"integer at [1] = {-(2**53) - 1} is outside" in refused("executionPlan", execution_plan=[0, -(2**53) - 1])
    assert f"integer at x = {2**64} is outside" in refused("executionResult", execution_result={"x": 2**64})
