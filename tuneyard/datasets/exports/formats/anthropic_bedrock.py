"""ANTHROPIC_BEDROCK: Claude fine-tuning on Amazon Bedrock: top-level "system", then user/assistant turns."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tuneyard.datasets.exports.formats.base import Exporter, TrainingText, check_alternation, check_keys, check_text
from tuneyard.datasets.models import ExportFormat, FrozenExample

_REQUIRED = frozenset(("messages",))
_ALLOWED = frozenset(("system", "messages"))
_TURN_KEYS = frozenset(("role", "content"))


class AnthropicBedrock(Exporter):
    format = ExportFormat.ANTHROPIC_BEDROCK
    text_only = True
    token_limit = 32_000  # Bedrock's record limit for Claude 3 Haiku fine-tuning

    def record(self, example: FrozenExample, text: TrainingText) -> dict[str, Any]:
        return {
            "system": text.system,
            "messages": [{"role": "user", "content": text.user}, {"role": "assistant", "content": text.assistant}],
        }

    def validate(self, record: Any) -> list[str]:
        problems = check_keys(record, _REQUIRED, _ALLOWED)
        if not isinstance(record, Mapping):
            return problems
        if "system" in record and not isinstance(record["system"], str):
            problems.append("system: must be a string")
        messages = record.get("messages")
        if not isinstance(messages, list) or not messages:
            return [*problems, "messages: must be a non-empty list"]
        roles = []
        for index, message in enumerate(messages):
            at = f"messages[{index}]"
            problems += check_keys(message, _TURN_KEYS, _TURN_KEYS, at)
            if isinstance(message, Mapping):
                roles.append(message.get("role"))
                problems += check_text(message.get("content"), f"{at}.content")
        return problems + check_alternation(roles, "user", "assistant", "messages")
