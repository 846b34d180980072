"""SHAREGPT: {"id", "conversations": [{"from": "system"|"human"|"gpt", "value"}]}, as LLaMA-Factory and Axolotl read it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tuneyard.datasets.exports.formats.base import Exporter, TrainingText, check_alternation, check_keys, check_text
from tuneyard.datasets.models import ExportFormat, FrozenExample

_REQUIRED = frozenset(("conversations",))
_ALLOWED = frozenset(("id", "conversations", "system"))
_TURN_KEYS = frozenset(("from", "value"))


class ShareGPT(Exporter):
    format = ExportFormat.SHAREGPT

    def record(self, example: FrozenExample, text: TrainingText) -> dict[str, Any]:
        return {
            "id": example.execution_id,
            "conversations": [
                {"from": "system", "value": text.system},
                {"from": "human", "value": text.user},
                {"from": "gpt", "value": text.assistant},
            ],
        }

    def validate(self, record: Any) -> list[str]:
        problems = check_keys(record, _REQUIRED, _ALLOWED)
        if not isinstance(record, Mapping):
            return problems
        turns = record.get("conversations")
        if not isinstance(turns, list) or not turns:
            return [*problems, "conversations: must be a non-empty list"]
        roles = []
        for index, turn in enumerate(turns):
            at = f"conversations[{index}]"
            problems += check_keys(turn, _TURN_KEYS, _TURN_KEYS, at)
            if isinstance(turn, Mapping):
                if turn.get("from") == "system" and index > 0:
                    problems.append(f"{at}: a system turn may only come first")
                if not (turn.get("from") == "system" and index == 0):
                    roles.append(turn.get("from"))
                problems += check_text(turn.get("value"), f"{at}.value")
        return problems + check_alternation(roles, "human", "gpt", "conversations")
