"""What is wrong with a batch of examples: each problem with the example and field it concerns, all of them at once.

A client fixing a batch of 1,000 (or a file of a million lines) needs every problem, not the first one per try.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tuneyard.core.errors import ValidationError

MAX_PROBLEMS = 100  # reported per batch or file; the count of the rest is given


class FieldError(ValidationError):
    """One field of one example breaks a rule: `examples[index].field: reason`."""

    def __init__(self, index: int, field: str, reason: str) -> None:
        super().__init__(f"examples[{index}].{field}: {reason}")
        self.index, self.field, self.reason = index, field, reason


@dataclass(frozen=True, slots=True)
class Problem:
    """A rule broken by one field of one example (index in the batch, or line of a file)."""

    index: int
    field: str
    reason: str

    def to_json(self, where: str = "index") -> dict[str, Any]:
        """As clients see it: {index (or line), field, message}."""
        return {where: self.index, "field": self.field, "message": self.reason}


def problem_of(error: FieldError) -> Problem:
    """The problem a FieldError reports."""
    return Problem(error.index, error.field, error.reason)


class BatchError(ValidationError):
    """A batch with invalid examples: the message names the first problem and counts the others; extensions list
    up to MAX_PROBLEMS of them ({index, field, message}) for clients to show each where it belongs."""

    def __init__(self, problems: list[Problem], total: int) -> None:
        first = problems[0]
        more = (
            f" (and {total - 1} more problem{'s' if total > 2 else ''}: see extensions.problems)" if total > 1 else ""
        )
        super().__init__(f"examples[{first.index}].{first.field}: {first.reason}{more}")
        self.problems = problems
        # graphql-core copies an original error's `extensions` into the GraphQL error the client gets.
        self.extensions = {"problems": [p.to_json() for p in problems], "problemCount": total}
