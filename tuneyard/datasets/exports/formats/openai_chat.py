"""OPENAI_CHAT: {"messages": [system, user, assistant]}, checked as OpenAI's chat fine-tuning data checks do."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tuneyard.datasets.exports.formats.base import Exporter, TrainingText, check_keys, is_text
from tuneyard.datasets.models import ExportFormat, FrozenExample

_REQUIRED = frozenset(("messages",))
_TOP_KEYS = frozenset(("messages", "tools", "parallel_tool_calls", "functions"))
_MESSAGE_REQUIRED = frozenset(("role", "content"))
_MESSAGE_KEYS = frozenset(("role", "content", "name", "weight", "function_call", "tool_calls", "tool_call_id"))
_ROLES = frozenset(("system", "user", "assistant", "tool", "function"))


class OpenAIChat(Exporter):
    format = ExportFormat.OPENAI_CHAT
    text_only = True
    token_limit = 65_536  # training context of gpt-4o / gpt-4o-mini / gpt-4.1 fine-tuning

    def record(self, example: FrozenExample, text: TrainingText) -> dict[str, Any]:
        return {
            "messages": [
                {"role": "system", "content": text.system},
                {"role": "user", "content": text.user},
                {"role": "assistant", "content": text.assistant},
            ]
        }

    def validate(self, record: Any) -> list[str]:
        problems = check_keys(record, _REQUIRED, _TOP_KEYS)
        if problems and not isinstance(record, Mapping):
            return problems
        messages = record.get("messages")
        if not isinstance(messages, list) or not messages:
            return [*problems, "messages: must be a non-empty list"]
        for index, message in enumerate(messages):
            at = f"messages[{index}]"
            if not isinstance(message, Mapping):
                problems.append(f"{at}: must be an object")
                continue
            problems += check_keys(message, _MESSAGE_REQUIRED, _MESSAGE_KEYS, at)
            if message.get("role") not in _ROLES:
                problems.append(f"{at}.role: unrecognized role {message.get('role')!r}")
            has_call = message.get("function_call") or message.get("tool_calls")
            if not has_call and not is_text(message.get("content")):
                problems.append(f"{at}.content: missing or empty")
            if "weight" in message and message["weight"] not in (0, 1):
                problems.append(f"{at}.weight: must be 0 or 1")
        if not any(isinstance(m, Mapping) and m.get("role") == "assistant" for m in messages):
            problems.append("messages: no assistant message")
        return problems
