"""The IMPORT job's type, its input and result, and how one line of a JSONL file becomes a checked example."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson

from tuneyard.examples.models import COLUMN_OF, RECORDED, NewExample, example_problems, example_row
from tuneyard.examples.problems import FieldError, Problem, problem_of
from tuneyard.jobs.models import JobKind, JobModel, JobType


class ImportInput(JobModel):
    """The file an IMPORT job records."""

    path: str  # the file the job reads (absolute), under the home's imports folder
    name: str  # what the user called it (the uploaded or given file name), for messages


class ImportResult(JobModel):
    """What an import found: lines read, examples inserted, lines skipped (their executionId existed), problems."""

    lines: int = 0
    inserted: int = 0
    skipped: int = 0
    problems: list[dict[str, Any]] = []  # up to MAX_PROBLEMS: {"line", "field", "message"}
    problem_count: int = 0
    complete: bool = False


IMPORT_JOB = JobType(JobKind.IMPORT, actor="examples.import", queue="import", input=ImportInput, result=ImportResult)

_STRINGS = {"executionId", "userRequest", "intent", "platform", "modelId"}
_LISTS = {"tags", "patternsDiscovered"}
_JSON = {f.graphql for f in RECORDED if f.json}
_FIELDS = {f.graphql for f in RECORDED}
_REQUIRED = ("executionId", "userRequest")


def _typed(name: str, value: Any) -> tuple[Any, str | None]:
    """The value as recordExamples' GraphQL input types coerce it ((value, None)), or (None, why it is refused)."""
    if value is None or name in _JSON:
        return value, None
    if name in _STRINGS:
        return (value, None) if isinstance(value, str) else (None, "must be a string")
    if name in _LISTS:
        items = [value] if isinstance(value, str) else value  # GraphQL reads a single item as a list of one
        ok = isinstance(items, list) and all(isinstance(i, str) for i in items)
        return (items, None) if ok else (None, "must be a list of strings")
    if name == "qualityScore":
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return (float(value), None) if ok else (None, "must be a number")
    if name == "success":
        return (value, None) if isinstance(value, bool) else (None, "must be a boolean")
    # createdAt: the DateTime scalar's format (its range is one of the record rules, checked with them)
    if not isinstance(value, str):
        return None, "must be an ISO 8601 string such as 2025-12-01T09:30:00Z"
    try:
        return datetime.fromisoformat(value), None
    except ValueError:
        return None, f"must be an ISO 8601 string such as 2025-12-01T09:30:00Z, got {value!r}"


def line_row(text: bytes, line: int) -> tuple[list[Any] | None, list[Problem]]:
    """One line as the row recordExamples would store (RECORDED order), or the problems that refuse it."""
    try:
        document = orjson.loads(text)
    except orjson.JSONDecodeError as error:
        return None, [Problem(line, "line", f"not valid JSON ({error})")]
    if not isinstance(document, dict):
        return None, [Problem(line, "line", "must be a JSON object with the fields of ExampleInput")]
    problems = [Problem(line, name, "is required") for name in _REQUIRED if document.get(name) is None]
    problems += [Problem(line, name, "is not a field of ExampleInput") for name in document if name not in _FIELDS]
    values = {}
    for name, value in document.items():
        if name in _FIELDS:
            typed, problem = _typed(name, value)
            if problem is not None:
                problems.append(Problem(line, name, problem))
            values[COLUMN_OF[name]] = typed
    if any(p.reason == "is required" for p in problems):
        return None, problems
    example = NewExample(**values)  # a value of the wrong type is None here: the rules below see the others
    try:
        row = example_row(example, line)
    except FieldError as error:
        return None, problems + (example_problems(example, line) or [problem_of(error)])
    return (None, problems) if problems else (row, [])
