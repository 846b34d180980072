"""The exporter interface and the training text every format is built from.

Training text: the user turn is the request with its intent, platform and business state; the
assistant turn is the execution plan (JSON, as stored). Quality scores, success and outcome metrics
never enter the training text; only RAW carries them.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass
from typing import Any, ClassVar

import orjson

from tuneyard.domain.datasets import ExportFormat, FrozenExample

SYSTEM_PROMPT = (
    "You are the planner of a content orchestrator. Given a request, its intent, the platform and the "
    "business state, reply with the execution plan as JSON."
)


@dataclass(frozen=True, slots=True)
class TrainingText:
    system: str
    user: str
    assistant: str


def training_text(example: FrozenExample) -> TrainingText:
    """The (system, user, assistant) texts of a frozen example; a missing plan gives an empty assistant turn."""
    user = example.user_request
    context = []
    if example.intent is not None:
        context.append(f"Intent: {example.intent}")
    if example.platform is not None:
        context.append(f"Platform: {example.platform}")
    if example.business_state is not None:
        context.append(f"Business state: {example.business_state}")
    if context:
        user = f"{user}\n\n" + "\n".join(context)
    return TrainingText(SYSTEM_PROMPT, user, example.execution_plan or "")


class Exporter(ABC):
    """One export format: renders a frozen example as one JSON line and checks a line against its rules."""

    format: ClassVar[ExportFormat]
    # The largest example (in tokens of its training text) the target service accepts; None: no limit.
    token_limit: ClassVar[int | None] = None

    @abstractmethod
    def record(self, example: FrozenExample, text: TrainingText) -> dict[str, Any]:
        """The JSON object of one line."""

    @abstractmethod
    def validate(self, record: Any) -> list[str]:
        """Problems with one parsed line (empty when it follows the format's rules)."""

    def render(self, example: FrozenExample) -> bytes:
        """One line of the export file, without its newline."""
        return orjson.dumps(self.record(example, training_text(example)))

    def validate_line(self, line: bytes | str) -> list[str]:
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError as error:
            return [f"not valid JSON: {error}"]
        return self.validate(record)


def check_keys(record: Any, required: Set[str], allowed: Set[str], where: str = "line") -> list[str]:
    """The record is an object with every required key and no key outside `allowed`."""
    if not isinstance(record, Mapping):
        return [f"{where}: must be a JSON object"]
    keys = record.keys()
    if keys >= required and keys <= allowed:  # the common case, without building anything
        return []
    problems = [f"{where}: missing key {key!r}" for key in sorted(required) if key not in record]
    return problems + [f"{where}: unrecognized key {key!r}" for key in record if key not in allowed]


def is_text(value: Any) -> bool:
    """A string with something in it besides whitespace."""
    return type(value) is str and value != "" and not value.isspace()


def check_text(value: Any, where: str) -> list[str]:
    if is_text(value):
        return []
    return [f"{where}: must be a string" if not isinstance(value, str) else f"{where}: must not be empty"]


def check_alternation(roles: Sequence[Any], first: str, second: str, where: str) -> list[str]:
    """Turns alternate first, second, first, ... and the last one is `second`."""
    problems = []
    for index, role in enumerate(roles):
        expected = first if index % 2 == 0 else second
        if role != expected:
            problems.append(f"{where}[{index}]: role must be {expected!r} (turns alternate), got {role!r}")
            break
    if roles and roles[-1] != second:
        problems.append(f"{where}: the last turn must be {second!r}")
    return problems
