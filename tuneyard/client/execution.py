"""One execution of the orchestrator as recordExamples takes it (ExampleInput), typed on the Python side."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True, kw_only=True)
class Execution:
    """The contract's ExampleInput in snake_case. Fields left None are not sent (the server's default: none)."""

    execution_id: str  # the key: recording the same execution again updates it, or changes nothing
    user_request: str
    intent: str | None = None
    platform: str | None = None
    business_state: Any = None  # any JSON value
    execution_plan: Any = None
    execution_result: Any = None
    quality_score: float | None = None  # 0..1
    success: bool | None = None
    tags: Sequence[str] | None = None
    created_at: datetime | None = None  # when it ran (a time without zone is UTC); default: when first recorded
    post_publication_metrics: Any = None
    patterns_discovered: Sequence[str] | None = None
    model_id: str | None = None  # the model that decided: a Tuneyard model id or the provider's model id

    def to_input(self) -> dict[str, Any]:
        """The ExampleInput object (camelCase), without the fields left None."""
        sent: dict[str, Any] = {}
        for name, camel in _CAMEL.items():
            value = getattr(self, name)
            if value is None:
                continue
            if isinstance(value, datetime):
                value = value.isoformat()
            elif name in _LISTS:
                value = list(value)
            sent[camel] = value
        return sent


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


_CAMEL = {f.name: _camel(f.name) for f in fields(Execution)}
_SNAKE = {camel: name for name, camel in _CAMEL.items()}
_LISTS = {"tags", "patterns_discovered"}


def as_execution(execution: Execution | Mapping[str, Any]) -> Execution:
    """An Execution from itself or from a dict keyed in snake_case or camelCase; an unknown key is a TypeError."""
    if isinstance(execution, Execution):
        return execution
    return Execution(**{_SNAKE.get(key, key): value for key, value in execution.items()})


def encode(execution: Execution | Mapping[str, Any]) -> tuple[str, str]:
    """(executionId, its ExampleInput as JSON text): encoded once, when recorded, so that a value JSON cannot hold
    (NaN included) fails in the caller rather than in the background, and the same text is sent and spooled."""
    typed = as_execution(execution)
    if not isinstance(typed.execution_id, str) or not isinstance(typed.user_request, str):
        raise TypeError("execution_id and user_request must be strings")
    return typed.execution_id, json.dumps(typed.to_input(), ensure_ascii=False, allow_nan=False, separators=(",", ":"))
