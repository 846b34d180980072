"""Every export format's exact line, with and without the optional fields, its validator's exact findings, and the
token limit each format enforces, on both sides."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson
import pytest

from tuneyard.datasets.exports.formats import EXPORTERS, training_text
from tuneyard.datasets.exports.formats.base import user_text
from tuneyard.datasets.exports.writer import Batch, OutputFile, Tally, Writer
from tuneyard.datasets.models import ExportFormat, FrozenExample, Split

PROMPT = (
    "You are the planner of a content orchestrator. Given a request, its intent, the platform and the business "
    "state, reply with the execution plan as JSON."
)
PLAN = '{"steps": [{"tool": "draft"}]}'


def frozen(**changes: Any) -> FrozenExample:
    values: dict[str, Any] = dict(
        example_id=7, split=Split.TRAIN, execution_id="run-7", user_request="Write a post", intent="publish",
        platform="blog", business_state='{"plan": "pro"}', execution_plan=PLAN, execution_result='{"ok": true}',
        quality_score=0.5, success=True, tags=["good"], post_publication_metrics='{"likes": 3}',
        patterns_discovered=["short"], created_at=datetime(2025, 3, 1, 9, 30, tzinfo=timezone(timedelta(hours=1))),
        updated_at=datetime(2025, 3, 2, tzinfo=UTC), model_id="gpt",
    )  # fmt: skip
    return FrozenExample(**(values | changes))


USER_TEXTS = [
    (("publish", "blog", '{"a": 1}'), 'Write a post\n\nIntent: publish\nPlatform: blog\nBusiness state: {"a": 1}'),
    ((None, "blog", '{"a": 1}'), 'Write a post\n\nPlatform: blog\nBusiness state: {"a": 1}'),
    (("publish", None, '{"a": 1}'), 'Write a post\n\nIntent: publish\nBusiness state: {"a": 1}'),
    (("publish", "blog", None), "Write a post\n\nIntent: publish\nPlatform: blog"),
    (("publish", None, None), "Write a post\n\nIntent: publish"),
    ((None, "blog", None), "Write a post\n\nPlatform: blog"),
    ((None, None, '{"a": 1}'), 'Write a post\n\nBusiness state: {"a": 1}'),
    ((None, None, None), "Write a post"),
]


@pytest.mark.parametrize(("known", "expected"), USER_TEXTS)
def test_the_user_turn_has_exactly_the_known_lines(known: tuple[str | None, ...], expected: str) -> None:
    assert user_text("Write a post", *known) == expected
    text = training_text(frozen(intent=known[0], platform=known[1], business_state=known[2]))
    assert (text.system, text.user, text.assistant) == (PROMPT, expected, PLAN)


def test_a_missing_plan_is_an_empty_assistant_turn() -> None:
    assert training_text(frozen(execution_plan=None)).assistant == ""


def _chat_lines(user: str, plan: str) -> dict[ExportFormat, dict[str, Any]]:
    return {
        ExportFormat.OPENAI_CHAT: {"messages": [
            {"role": "system", "content": PROMPT}, {"role": "user", "content": user},
            {"role": "assistant", "content": plan}]},
        ExportFormat.ANTHROPIC_BEDROCK: {"system": PROMPT, "messages": [
            {"role": "user", "content": user}, {"role": "assistant", "content": plan}]},
        ExportFormat.GEMINI_VERTEX: {
            "systemInstruction": {"role": "system", "parts": [{"text": PROMPT}]},
            "contents": [{"role": "user", "parts": [{"text": user}]}, {"role": "model", "parts": [{"text": plan}]}]},
        ExportFormat.SHAREGPT: {"id": "run-7", "conversations": [
            {"from": "system", "value": PROMPT}, {"from": "human", "value": user}, {"from": "gpt", "value": plan}]},
        ExportFormat.ALPACA: {"instruction": PROMPT, "input": user, "output": plan},
    }  # fmt: skip


@pytest.mark.parametrize(("known", "user"), USER_TEXTS)
@pytest.mark.parametrize("fmt", [f for f in ExportFormat if f is not ExportFormat.RAW])
def test_each_chat_format_line_exactly(fmt: ExportFormat, known: tuple[str | None, ...], user: str) -> None:
    example = frozen(intent=known[0], platform=known[1], business_state=known[2] and '{"a": 1}')
    exporter = EXPORTERS[fmt]
    expected = orjson.dumps(_chat_lines(user, PLAN)[fmt])
    assert exporter.render(example) == expected
    if exporter.text_only:  # the export writes text-only formats from their frame: the same bytes
        head, middle, tail = exporter.frame
        assert head + orjson.dumps(user) + middle + orjson.dumps(PLAN) + tail == expected
    assert exporter.validate_line(expected) == []


def test_raw_lines_exactly_with_and_without_the_optional_fields() -> None:
    raw = EXPORTERS[ExportFormat.RAW]
    full = (
        b'{"exampleId":"7","executionId":"run-7","split":"TRAIN","userRequest":"Write a post","intent":"publish",'
        b'"platform":"blog","businessState":{"plan": "pro"},"executionPlan":' + PLAN.encode() + b","
        b'"executionResult":{"ok": true},"qualityScore":0.5,"success":true,"tags":["good"],'
        b'"postPublicationMetrics":{"likes": 3},"patternsDiscovered":["short"],"createdAt":"2025-03-01T08:30:00+00:00",'
        b'"updatedAt":"2025-03-02T00:00:00+00:00","modelId":"gpt"}'
    )
    assert raw.render(frozen()) == full
    bare = frozen(
        split=Split.VALIDATION, intent=None, platform=None, business_state=None, execution_plan=None,
        execution_result=None, quality_score=None, success=None, tags=[], post_publication_metrics=None,
        patterns_discovered=None, model_id=None,
    )  # fmt: skip
    assert raw.render(bare) == (
        b'{"exampleId":"7","executionId":"run-7","split":"VALIDATION","userRequest":"Write a post","intent":null,'
        b'"platform":null,"businessState":null,"executionPlan":null,"executionResult":null,"qualityScore":null,'
        b'"success":null,"tags":[],"postPublicationMetrics":null,"patternsDiscovered":null,'
        b'"createdAt":"2025-03-01T08:30:00+00:00","updatedAt":"2025-03-02T00:00:00+00:00"}'
    )
    assert raw.validate_line(full) == [] and raw.validate_line(raw.render(bare)) == []


# fmt: off
VALIDATED: list[tuple[ExportFormat, Any, list[str]]] = [
    (ExportFormat.OPENAI_CHAT, "x", ["line: must be a JSON object"]),
    (ExportFormat.OPENAI_CHAT, {}, ["line: missing key 'messages'", "messages: must be a non-empty list"]),
    (ExportFormat.OPENAI_CHAT, {"messages": [], "extra": 1},
     ["line: unrecognized key 'extra'", "messages: must be a non-empty list"]),
    (ExportFormat.OPENAI_CHAT, {"messages": ["hi", {"role": "robot", "content": " "},
                                             {"role": "assistant", "content": "ok", "weight": 2}]},
     ["messages[0]: must be an object", "messages[1].role: unrecognized role 'robot'",
      "messages[1].content: missing or empty", "messages[2].weight: must be 0 or 1"]),
    (ExportFormat.OPENAI_CHAT, {"messages": [{"role": "user", "content": "a", "x": 1}]},
     ["messages[0]: unrecognized key 'x'", "messages: no assistant message"]),
    (ExportFormat.OPENAI_CHAT, {"messages": [{"role": "assistant", "tool_calls": [{"id": "1"}]}]},
     ["messages[0]: missing key 'content'"]),
    (ExportFormat.OPENAI_CHAT, {"messages": [{"role": "assistant", "function_call": {"name": "f"}, "content": ""}]}, []),
    (ExportFormat.OPENAI_CHAT, {"messages": [{"role": "assistant", "content": "ok", "weight": 0}], "tools": []}, []),
    (ExportFormat.OPENAI_CHAT, {"messages": [{"role": "tool", "content": "t"}, {"role": "assistant", "content": "ok",
                                                                               "weight": 1}]}, []),
    (ExportFormat.OPENAI_CHAT, {"messages": [{"content": "x"}]},
     ["messages[0]: missing key 'role'", "messages[0].role: unrecognized role None", "messages: no assistant message"]),
    (ExportFormat.ANTHROPIC_BEDROCK, "x", ["line: must be a JSON object"]),
    (ExportFormat.ANTHROPIC_BEDROCK, {"system": 1, "messages": [{"role": "user", "content": "a"},
                                                                {"role": "assistant", "content": "b"}]},
     ["system: must be a string"]),
    (ExportFormat.ANTHROPIC_BEDROCK, {"messages": [{"role": "user", "content": "a"},
                                                   {"role": "assistant", "content": "b"}]}, []),
    (ExportFormat.ANTHROPIC_BEDROCK, {"messages": [{"role": "user", "content": ""}, {"role": "assistant", "content": 3}]},
     ["messages[0].content: must not be empty", "messages[1].content: must be a string"]),
    (ExportFormat.ANTHROPIC_BEDROCK, {"messages": "x"}, ["messages: must be a non-empty list"]),
    (ExportFormat.ANTHROPIC_BEDROCK, {"system": "s"},
     ["line: missing key 'messages'", "messages: must be a non-empty list"]),
    (ExportFormat.ANTHROPIC_BEDROCK, {"messages": [{"role": "user", "content": "a"}]},
     ["messages: the last turn must be 'assistant'"]),
    (ExportFormat.ANTHROPIC_BEDROCK, {"messages": [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}]},
     ["messages[1]: role must be 'assistant' (turns alternate), got 'user'", "messages: the last turn must be 'assistant'"]),
    (ExportFormat.ANTHROPIC_BEDROCK, {"x": 1, "messages": [{"role": "user", "content": "a", "extra": 1},
                                                           {"role": "assistant", "content": "b"}]},
     ["line: unrecognized key 'x'", "messages[0]: unrecognized key 'extra'"]),
    (ExportFormat.ANTHROPIC_BEDROCK, {"messages": ["s", {"role": "assistant", "content": "b"}]},
     ["messages[0]: must be a JSON object", "messages[0]: role must be 'user' (turns alternate), got 'assistant'"]),
    (ExportFormat.GEMINI_VERTEX, "x", ["line: must be a JSON object"]),
    (ExportFormat.GEMINI_VERTEX, {"contents": [{"role": "user", "parts": [{"text": "a"}]},
                                               {"role": "model", "parts": [{"text": "b"}]}]}, []),
    (ExportFormat.GEMINI_VERTEX, {"systemInstruction": {"parts": [{"text": "s"}]},
                                  "contents": [{"role": "user", "parts": [{"text": "a"}]},
                                               {"role": "model", "parts": [{"text": "b"}]}]}, []),
    (ExportFormat.GEMINI_VERTEX, {"systemInstruction": {"role": "user", "parts": []},
                                  "contents": [{"role": "user", "parts": [{"text": "a"}]},
                                               {"role": "model", "parts": [{"text": "b"}]}]},
     ["systemInstruction.role: must be 'system' when given", "systemInstruction.parts: must be a non-empty list of parts"]),
    (ExportFormat.GEMINI_VERTEX, {"systemInstruction": "s", "contents": []},
     ["systemInstruction: must be a JSON object", "contents: must be a non-empty list"]),
    (ExportFormat.GEMINI_VERTEX, {"contents": [{"role": "user", "parts": [{"text": ""}, {"txt": "x"}]},
                                               {"role": "model", "parts": "b"}]},
     ["contents[0].parts[0].text: must not be empty", "contents[0].parts[1]: missing key 'text'",
      "contents[0].parts[1]: unrecognized key 'txt'", "contents[0].parts[1].text: must be a string",
      "contents[1].parts: must be a non-empty list of parts"]),
    (ExportFormat.GEMINI_VERTEX, {"contents": [{"role": "model", "parts": [{"text": "a"}]}]},
     ["contents[0]: role must be 'user' (turns alternate), got 'model'"]),
    (ExportFormat.GEMINI_VERTEX, {"contents": [{"role": "user", "parts": [{"text": "a"}]}]},
     ["contents: the last turn must be 'model'"]),
    (ExportFormat.SHAREGPT, "x", ["line: must be a JSON object"]),
    (ExportFormat.SHAREGPT, {"conversations": [{"from": "human", "value": "a"}, {"from": "gpt", "value": "b"}]}, []),
    (ExportFormat.SHAREGPT, {"id": "i", "system": "s", "conversations": [
        {"from": "system", "value": "s"}, {"from": "human", "value": "a"}, {"from": "gpt", "value": "b"}]}, []),
    (ExportFormat.SHAREGPT, {"conversations": []}, ["conversations: must be a non-empty list"]),
    (ExportFormat.SHAREGPT, {"conversations": [{"from": "human", "value": "a"}, {"from": "system", "value": ""}]},
     ["conversations[1]: a system turn may only come first", "conversations[1].value: must not be empty",
      "conversations[1]: role must be 'gpt' (turns alternate), got 'system'", "conversations: the last turn must be 'gpt'"]),
    (ExportFormat.SHAREGPT, {"conversations": [{"from": "human", "value": "a", "to": "b"}, {"from": "gpt"}]},
     ["conversations[0]: unrecognized key 'to'", "conversations[1]: missing key 'value'",
      "conversations[1].value: must be a string"]),
    (ExportFormat.ALPACA, "x", ["line: must be a JSON object"]),
    (ExportFormat.ALPACA, {"instruction": "i", "input": "", "output": "o"}, []),
    (ExportFormat.ALPACA, {"instruction": "i", "input": "x", "output": "o", "history": [], "system": "s"}, []),
    (ExportFormat.ALPACA, {"instruction": "i", "output": "o"}, ["line: missing key 'input'"]),
    (ExportFormat.ALPACA, {"instruction": "i", "input": 5, "output": "o"}, ["input: must be a string"]),
    (ExportFormat.ALPACA, {"instruction": " ", "input": "x", "output": ""},
     ["instruction: must not be empty", "output: must not be empty"]),
    (ExportFormat.RAW, "x", ["line: must be a JSON object"]),
]
# fmt: on


@pytest.mark.parametrize(
    ("fmt", "record", "expected"), VALIDATED, ids=[f"{f.value}-{i}" for i, (f, _, _) in enumerate(VALIDATED)]
)
def test_validators_find_exactly_what_is_wrong(fmt: ExportFormat, record: Any, expected: list[str]) -> None:
    assert EXPORTERS[fmt].validate(record) == expected


def _raw(**changes: Any) -> dict[str, Any]:
    record = orjson.loads(EXPORTERS[ExportFormat.RAW].render(frozen()))
    return {k: v for k, v in (record | changes).items() if v is not ...}


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        (_raw(split="TEST"), ["split: must be TRAIN or VALIDATION"]),
        (_raw(split="VALIDATION", qualityScore=0), []),
        (_raw(qualityScore=1), []),
        (_raw(qualityScore=None), []),
        (_raw(qualityScore=1.5), ["qualityScore: must be null or between 0 and 1"]),
        (_raw(qualityScore=-0.1), ["qualityScore: must be null or between 0 and 1"]),
        (_raw(qualityScore="0.5"), ["qualityScore: must be null or between 0 and 1"]),
        (_raw(tags="good"), ["tags: must be a list"]),
        (_raw(modelId=...), []),
        (_raw(modelId=""), ["modelId: must not be empty"]),
        (_raw(executionId=5, userRequest=" "), ["executionId: must be a string", "userRequest: must not be empty"]),
        (_raw(intent=...), ["line: missing key 'intent'"]),
        (_raw(extra=1), ["line: unrecognized key 'extra'"]),
    ],
)
def test_the_raw_validator(record: dict[str, Any], expected: list[str]) -> None:
    assert EXPORTERS[ExportFormat.RAW].validate(record) == expected


LIMITS = {ExportFormat.OPENAI_CHAT: 65_536, ExportFormat.ANTHROPIC_BEDROCK: 32_000, ExportFormat.GEMINI_VERTEX: 131_072}


@pytest.mark.parametrize("fmt", list(ExportFormat))
def test_each_format_flags_examples_over_its_token_limit(fmt: ExportFormat, tmp_path: Path) -> None:
    files = {split: OutputFile(split, tmp_path / "t", tmp_path / "f", io.BytesIO()) for split in Split}
    tally = Tally()
    writer = Writer(EXPORTERS[fmt], files, tally)
    limit = LIMITS.get(fmt)
    counts = [10, 32_000, 32_001, 65_536, 65_537, 131_072, 131_073]
    batch = Batch([files[Split.TRAIN]] * 6 + [files[Split.VALIDATION]], list(range(1, 8)), list(range(100, 107)),
                  [""] * 7, [""] * 7)  # fmt: skip
    writer.add_counts(batch, counts)
    over = [n for n in counts if limit is not None and n > limit]
    assert [p.problem for p in tally.problems] == [f"{n} tokens, more than the limit of {limit}" for n in over]
    assert tally.over_limit == len(over) and tally.max_tokens == 131_073
    assert tally.tokens == {Split.TRAIN: sum(counts[:6]), Split.VALIDATION: counts[6]}
