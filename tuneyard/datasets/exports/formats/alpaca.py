"""ALPACA: {"instruction", "input", "output"}: the task, the request with its context, the plan."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tuneyard.datasets.exports.formats.base import Exporter, TrainingText, check_keys, check_text
from tuneyard.datasets.models import ExportFormat, FrozenExample

_REQUIRED = frozenset(("instruction", "input", "output"))
_ALLOWED = frozenset(("instruction", "input", "output", "system", "history"))


class Alpaca(Exporter):
    format = ExportFormat.ALPACA
    text_only = True

    def record(self, example: FrozenExample, text: TrainingText) -> dict[str, Any]:
        return {"instruction": text.system, "input": text.user, "output": text.assistant}

    def validate(self, record: Any) -> list[str]:
        problems = check_keys(record, _REQUIRED, _ALLOWED)  # fmt: skip
        if not isinstance(record, Mapping):
            return problems
        problems += check_text(record.get("instruction"), "instruction")
        if not isinstance(record.get("input", ""), str):
            problems.append("input: must be a string")
        return problems + check_text(record.get("output"), "output")
