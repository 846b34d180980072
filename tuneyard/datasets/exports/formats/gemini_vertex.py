"""GEMINI_VERTEX: Gemini supervised tuning on Vertex AI: "systemInstruction" and "contents" of parts."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tuneyard.datasets.exports.formats.base import Exporter, TrainingText, check_alternation, check_keys, check_text
from tuneyard.datasets.models import ExportFormat, FrozenExample

_PART_KEYS = frozenset(("text",))
_REQUIRED = frozenset(("contents",))
_ALLOWED = frozenset(("systemInstruction", "contents"))
_PARTS = frozenset(("parts",))
_CONTENT_KEYS = frozenset(("role", "parts"))


def _parts(value: Any, where: str) -> list[str]:
    if not isinstance(value, list) or not value:
        return [f"{where}: must be a non-empty list of parts"]
    problems = []
    for index, part in enumerate(value):
        problems += check_keys(part, _PART_KEYS, _PART_KEYS, f"{where}[{index}]")
        if isinstance(part, Mapping):
            problems += check_text(part.get("text"), f"{where}[{index}].text")
    return problems


class GeminiVertex(Exporter):
    format = ExportFormat.GEMINI_VERTEX
    text_only = True
    token_limit = 131_072  # Vertex AI's per-example limit for Gemini 2.x tuning

    def record(self, example: FrozenExample, text: TrainingText) -> dict[str, Any]:
        return {
            "systemInstruction": {"role": "system", "parts": [{"text": text.system}]},
            "contents": [
                {"role": "user", "parts": [{"text": text.user}]},
                {"role": "model", "parts": [{"text": text.assistant}]},
            ],
        }

    def validate(self, record: Any) -> list[str]:
        problems = check_keys(record, _REQUIRED, _ALLOWED)
        if not isinstance(record, Mapping):
            return problems
        if "systemInstruction" in record:
            instruction = record["systemInstruction"]
            problems += check_keys(instruction, _PARTS, _CONTENT_KEYS, "systemInstruction")
            if isinstance(instruction, Mapping):
                if instruction.get("role", "system") != "system":
                    problems.append("systemInstruction.role: must be 'system' when given")
                problems += _parts(instruction.get("parts"), "systemInstruction.parts")
        contents = record.get("contents")
        if not isinstance(contents, list) or not contents:
            return [*problems, "contents: must be a non-empty list"]
        roles = []
        for index, content in enumerate(contents):
            at = f"contents[{index}]"
            problems += check_keys(content, _CONTENT_KEYS, _CONTENT_KEYS, at)
            if isinstance(content, Mapping):
                roles.append(content.get("role"))
                problems += _parts(content.get("parts"), f"{at}.parts")
        return problems + check_alternation(roles, "user", "model", "contents")
