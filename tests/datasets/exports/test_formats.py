"""Every export format: renders lines its own validator accepts, keeps scores out of training text, flags bad lines."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from tuneyard.datasets.exports.formats import EXPORTERS, training_text
from tuneyard.datasets.exports.formats.base import SYSTEM_PROMPT, is_text, user_text
from tuneyard.datasets.exports.formats.tokens import TOKENIZER, TokenCounter, count_examples, encoding
from tuneyard.datasets.models import ExportFormat, FrozenExample, Split

SCORE = 0.8765


def frozen(**changes: Any) -> FrozenExample:
    values: dict[str, Any] = dict(
        example_id=7, split=Split.TRAIN, execution_id="run-7", user_request="Write a LinkedIn post about our launch",
        intent="create_content", platform="linkedin", business_state='{"plan": "pro", "followers": 1200}',
        execution_plan='{"steps": [{"tool": "draft"}, {"tool": "publish"}]}', execution_result='{"status": "ok"}',
        quality_score=SCORE, success=True, tags=["prod"], post_publication_metrics='{"likes": 4321}',
        patterns_discovered=["morning posts"], created_at=datetime(2025, 3, 1, 9, 30, tzinfo=UTC),
        updated_at=datetime(2025, 3, 2, tzinfo=UTC),
    )  # fmt: skip
    values.update(changes)
    return FrozenExample(**values)


@pytest.mark.parametrize("fmt", list(ExportFormat))
def test_each_format_passes_its_own_validator_and_parses_back(fmt: ExportFormat) -> None:
    exporter = EXPORTERS[fmt]
    assert exporter.format is fmt
    line = exporter.render(frozen())
    assert b"\n" not in line
    record = orjson.loads(line)
    assert exporter.validate(record) == [] and exporter.validate_line(line) == []
    if fmt is not ExportFormat.RAW:  # RAW embeds the stored JSON text as it is
        assert orjson.dumps(record) == line, "rendering is canonical: parse and dump give the same bytes"
    assert exporter.render(frozen()) == line, "deterministic"


@pytest.mark.parametrize("fmt", [f for f in ExportFormat if f is not ExportFormat.RAW])
def test_scores_and_metrics_stay_out_of_training_text(fmt: ExportFormat) -> None:
    line = EXPORTERS[fmt].render(frozen()).decode()
    assert str(SCORE) not in line and "4321" not in line and "qualityScore" not in line and "likes" not in line
    text = training_text(frozen())
    assert "Write a LinkedIn post" in text.user and "create_content" in text.user and "1200" in text.user
    assert text.assistant == '{"steps": [{"tool": "draft"}, {"tool": "publish"}]}'
    assert text.system == SYSTEM_PROMPT


def test_raw_carries_the_whole_record() -> None:
    record = orjson.loads(EXPORTERS[ExportFormat.RAW].render(frozen()))
    assert record["qualityScore"] == SCORE and record["postPublicationMetrics"] == {"likes": 4321}
    assert record["businessState"] == {"plan": "pro", "followers": 1200} and record["exampleId"] == "7"
    assert record["split"] == "TRAIN" and record["createdAt"] == "2025-03-01T09:30:00+00:00"


def test_the_chat_shapes() -> None:
    openai = orjson.loads(EXPORTERS[ExportFormat.OPENAI_CHAT].render(frozen()))
    assert [m["role"] for m in openai["messages"]] == ["system", "user", "assistant"]
    bedrock = orjson.loads(EXPORTERS[ExportFormat.ANTHROPIC_BEDROCK].render(frozen()))
    assert bedrock["system"] == SYSTEM_PROMPT and [m["role"] for m in bedrock["messages"]] == ["user", "assistant"]
    vertex = orjson.loads(EXPORTERS[ExportFormat.GEMINI_VERTEX].render(frozen()))
    assert vertex["systemInstruction"]["parts"] == [{"text": SYSTEM_PROMPT}]
    assert [c["role"] for c in vertex["contents"]] == ["user", "model"]
    sharegpt = orjson.loads(EXPORTERS[ExportFormat.SHAREGPT].render(frozen()))
    assert [t["from"] for t in sharegpt["conversations"]] == ["system", "human", "gpt"]
    alpaca = orjson.loads(EXPORTERS[ExportFormat.ALPACA].render(frozen()))
    assert set(alpaca) == {"instruction", "input", "output"}


# fmt: off
BROKEN: list[tuple[ExportFormat, Any, str]] = [
    (ExportFormat.OPENAI_CHAT, {"messages": [{"role": "user", "content": "hi"}]}, "no assistant message"),
    (ExportFormat.OPENAI_CHAT, {"messages": [{"role": "robot", "content": "hi"}]}, "unrecognized role"),
    (ExportFormat.OPENAI_CHAT, {"messages": [{"role": "assistant", "content": ""}]}, "missing or empty"),
    (ExportFormat.OPENAI_CHAT, {"messages": [{"role": "assistant", "content": "x", "x": 1}]}, "unrecognized key"),
    (ExportFormat.OPENAI_CHAT, {"prompt": "x"}, "missing key 'messages'"),
    (ExportFormat.OPENAI_CHAT, [1, 2], "must be a JSON object"),
    (ExportFormat.ANTHROPIC_BEDROCK, {"messages": [{"role": "assistant", "content": "x"}]}, "role must be 'user'"),
    (ExportFormat.ANTHROPIC_BEDROCK, {"messages": [{"role": "user", "content": "x"}]}, "last turn must be"),
    (ExportFormat.ANTHROPIC_BEDROCK, {"system": "s", "messages": [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}]}, "turns alternate"),
    (ExportFormat.ANTHROPIC_BEDROCK, {"messages": [{"role": "system", "content": "x"}]}, "role must be 'user'"),
    (ExportFormat.GEMINI_VERTEX, {"contents": [{"role": "assistant", "parts": [{"text": "x"}]}]}, "role must be"),
    (ExportFormat.GEMINI_VERTEX, {"contents": [{"role": "user", "parts": []}]}, "non-empty list of parts"),
    (ExportFormat.GEMINI_VERTEX, {"messages": []}, "missing key 'contents'"),
    (ExportFormat.SHAREGPT, {"conversations": [{"from": "gpt", "value": "x"}]}, "role must be 'human'"),
    (ExportFormat.SHAREGPT, {"conversations": [{"from": "human", "value": "x"}, {"from": "system", "value": "s"}]}, "may only come first"),
    (ExportFormat.ALPACA, {"instruction": "x", "input": "y"}, "missing key 'output'"),
    (ExportFormat.ALPACA, {"instruction": "x", "input": "y", "output": " "}, "must not be empty"),
    (ExportFormat.RAW, {"executionId": "x"}, "missing key 'userRequest'"),
]
# fmt: on


@pytest.mark.parametrize(("fmt", "record", "expected"), BROKEN)
def test_validators_name_what_is_wrong(fmt: ExportFormat, record: Any, expected: str) -> None:
    problems = EXPORTERS[fmt].validate(record)
    assert any(expected in p for p in problems), problems


@pytest.mark.parametrize("fmt", list(ExportFormat))
def test_a_line_that_is_not_json_is_a_problem(fmt: ExportFormat) -> None:
    assert "not valid JSON" in EXPORTERS[fmt].validate_line(b'{"messages": [')[0]


@pytest.mark.parametrize("fmt", [f for f in ExportFormat if f is not ExportFormat.RAW])
def test_a_missing_plan_fails_validation(fmt: ExportFormat) -> None:
    assert EXPORTERS[fmt].validate_line(EXPORTERS[fmt].render(frozen(execution_plan=None)))


def test_token_counts_come_from_the_real_tokenizer() -> None:
    counter, text = TokenCounter(), training_text(frozen())
    direct = sum(len(encoding().encode(t)) for t in (text.system, text.user, text.assistant))
    assert counter.example(text) == direct + 12  # 3 per message, 3 to prime the reply
    assert counter.count("hello world") == 2 and "cl100k_base" in TOKENIZER


def test_the_tokenizer_loads_without_any_network() -> None:
    code = """
import socket
def refuse(*args, **kwargs):
    raise OSError("network disabled in this test")
socket.socket.connect = refuse
socket.create_connection = refuse
socket.getaddrinfo = refuse
import os
os.environ["TIKTOKEN_CACHE_DIR"] = ""  # no cached copy either: the file shipped in the package
from tuneyard.datasets.exports.formats.tokens import TokenCounter
print(TokenCounter().count("Write a LinkedIn post about our launch"))
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) == 7


@pytest.mark.parametrize("fmt", [f for f in ExportFormat if EXPORTERS[f].text_only])
@pytest.mark.parametrize(
    "changes",
    [{}, {"intent": None}, {"platform": None, "business_state": None}, {"intent": None, "platform": None,
     "business_state": None}, {"execution_plan": None}, {"user_request": 'quote " slash \\ tab \t é 😀 \x01 \u2028'},
     {"user_request": "   "}],
)  # fmt: skip
def test_a_framed_line_is_the_rendered_line(fmt: ExportFormat, changes: dict[str, Any]) -> None:
    exporter, example = EXPORTERS[fmt], frozen(**changes)
    text = training_text(example)
    head, middle, tail = exporter.frame
    line = head + orjson.dumps(text.user) + middle + orjson.dumps(text.assistant) + tail
    assert line == exporter.render(example)
    # What the export writes for text-only formats (frame + user_text), from the row's fields: the rendered line.
    written = (
        head
        + orjson.dumps(user_text(example.user_request, example.intent, example.platform, example.business_state))
        + middle
        + orjson.dumps(text.assistant)
        + tail
    )
    assert written == exporter.render(example)
    if is_text(text.user) and is_text(text.assistant):
        assert exporter.validate_line(line) == []


def test_batched_token_counts_match_one_by_one() -> None:
    counter = TokenCounter()
    texts = [training_text(frozen(user_request=f"request {i} " * i, execution_plan=None if i % 3 else "{}"))
             for i in range(50)]  # fmt: skip
    expected = [counter.example(t) for t in texts]
    assert counter.examples([t.user for t in texts], [t.assistant for t in texts]) == expected
    assert count_examples([t.user for t in texts], [t.assistant for t in texts]) == expected
