"""The exporter interface and the training text every format is built from.

Training text: the user turn is the request with its intent, platform and business state; the
assistant turn is the execution plan (JSON, as stored). Quality scores, success and outcome metrics
never enter the training text; only RAW carries them.
"""

from __future__ import annotations

import functools
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar

import orjson

from tuneyard.datasets.models import ExportFormat, FrozenExample, Split

SYSTEM_PROMPT = (
    "You are the planner of a content orchestrator. Given a request, its intent, the platform and the "
    "business state, reply with the execution plan as JSON."
)


@dataclass(frozen=True, slots=True)
class TrainingText:
    system: str
    user: str
    assistant: str


def user_text(request: str, intent: str | None, platform: str | None, business_state: str | None) -> str:
    """The user turn: the request, then its context (the lines that are known)."""
    if intent is not None and platform is not None and business_state is not None:  # the common case, fast
        return f"{request}\n\nIntent: {intent}\nPlatform: {platform}\nBusiness state: {business_state}"
    context = []
    if intent is not None:
        context.append(f"Intent: {intent}")
    if platform is not None:
        context.append(f"Platform: {platform}")
    if business_state is not None:
        context.append(f"Business state: {business_state}")
    return f"{request}\n\n" + "\n".join(context) if context else request


def training_text(example: FrozenExample) -> TrainingText:
    """The (system, user, assistant) texts of a frozen example; a missing plan gives an empty assistant turn."""
    user = user_text(example.user_request, example.intent, example.platform, example.business_state)
    return TrainingText(SYSTEM_PROMPT, user, example.execution_plan or "")


# Stand-ins for the user and assistant texts, to find where they go in a rendered line (see Exporter.frame).
_USER, _ASSISTANT = "\x00user\x00", "\x00assistant\x00"
_BLANK = FrozenExample(
    0, Split.TRAIN, "", "", None, None, None, None, None, None, None, [], None, None,
    datetime.min.replace(tzinfo=UTC), datetime.min.replace(tzinfo=UTC),
)  # fmt: skip


class Exporter(ABC):
    """One export format: renders a frozen example as one JSON line and checks a line against its rules."""

    format: ClassVar[ExportFormat]
    # The largest example (in tokens of its training text) the target service accepts; None: no limit.
    token_limit: ClassVar[int | None] = None
    # True when record() reads nothing but the training text and validate() reads the user and assistant
    # texts only through is_text/check_text (or as "is a string"): lines can then be framed (see frame()).
    text_only: ClassVar[bool] = False

    @abstractmethod
    def record(self, example: FrozenExample, text: TrainingText) -> dict[str, Any]:
        """The JSON object of one line."""

    @abstractmethod
    def validate(self, record: Any) -> list[str]:
        """Problems with one parsed line (empty when it follows the format's rules)."""

    def render(self, example: FrozenExample) -> bytes:
        """One line of the export file, without its newline."""
        return orjson.dumps(self.record(example, training_text(example)))

    @functools.cached_property
    def frame(self) -> tuple[bytes, bytes, bytes]:
        """(head, middle, tail) of a text-only format's line: a line is head + the user text as JSON + middle +
        the assistant text as JSON + tail, byte for byte what render() gives. Such a line is valid whenever
        both texts are is_text (the frame itself is checked here); otherwise validate_line tells what is wrong.
        """
        assert self.text_only, f"{self.format.value} is not a text-only format"
        record = self.record(_BLANK, TrainingText(SYSTEM_PROMPT, _USER, _ASSISTANT))
        problems = self.validate(record)
        assert not problems, problems
        head, rest = orjson.dumps(record).split(orjson.dumps(_USER))
        middle, tail = rest.split(orjson.dumps(_ASSISTANT))
        return head, middle, tail

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
