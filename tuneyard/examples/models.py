"""Examples: one recorded execution of the orchestrator, its fields, and the rules a new one must satisfy."""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from tuneyard.core.errors import ValidationError
from tuneyard.examples.checks import MAX_BATCH as MAX_BATCH
from tuneyard.examples.checks import MAX_EXECUTION_ID as MAX_EXECUTION_ID
from tuneyard.examples.checks import MAX_LABEL as MAX_LABEL
from tuneyard.examples.checks import MAX_MODEL_ID as MAX_MODEL_ID
from tuneyard.examples.checks import MAX_TAGS as MAX_TAGS
from tuneyard.examples.checks import MAX_USER_REQUEST as MAX_USER_REQUEST
from tuneyard.examples.checks import (
    NUL,
    created_at,
    execution_id,
    json_field,
    label_list,
    labels,
    model_id,
    no_nul,
    quality_score,
    tags,
    tags_problem,
    user_request,
)
from tuneyard.examples.json_values import MAX_JSON_BYTES as MAX_JSON_BYTES
from tuneyard.examples.problems import MAX_PROBLEMS, BatchError, FieldError, Problem, problem_of


@dataclass(frozen=True, slots=True)
class ExampleField:
    """One field of an example, named as every layer names it: the one list the others are built from."""

    name: str  # attribute and column (snake_case)
    graphql: str  # the API's name (camelCase)
    sql_type: str = "text"  # how a recorded batch sends it (JSON values and label lists travel as JSON text)
    json: bool = False  # stored as jsonb
    labels: bool = False  # a short list of labels (text[])
    recorded: bool = True  # the orchestrator sends it (ExampleInput)
    content: bool = True  # recorded content: a re-send that changes it updates the example
    frozen: bool = True  # copied into a dataset version
    hashed: bool = True  # part of a frozen member's content hash
    # Added after dataset versions existed: a member's content hash and its RAW line have it only when it is set, so
    # members without it (all of those frozen before) keep the hash and the RAW bytes they always had.
    omitted_when_null: bool = False


# In the order of the GraphQL Example type; a frozen member's content hash covers the hashed ones in this order.
FIELDS = (
    ExampleField("execution_id", "executionId", content=False),  # the key a batch upserts by
    ExampleField("user_request", "userRequest"),
    ExampleField("intent", "intent"),
    ExampleField("platform", "platform"),
    ExampleField("business_state", "businessState", json=True),
    ExampleField("execution_plan", "executionPlan", json=True),
    ExampleField("execution_result", "executionResult", json=True),
    ExampleField("quality_score", "qualityScore", "float8"),
    ExampleField("success", "success", "bool"),
    ExampleField("tags", "tags", labels=True, content=False),  # merged into the curated set, never replaced
    ExampleField("archived", "archived", recorded=False, content=False, frozen=False, hashed=False),
    ExampleField("post_publication_metrics", "postPublicationMetrics", json=True),
    ExampleField("patterns_discovered", "patternsDiscovered", labels=True),
    ExampleField("created_at", "createdAt", "timestamptz"),
    ExampleField("updated_at", "updatedAt", recorded=False, content=False, hashed=False),
    ExampleField("model_id", "modelId", omitted_when_null=True),  # the model that made the decision
)
COLUMNS = tuple(f.name for f in FIELDS)
RECORDED = tuple(f for f in FIELDS if f.recorded)  # a validated batch's columns, in this order
FROZEN = tuple(f for f in FIELDS if f.frozen)
COLUMN_OF = {f.graphql: f.name for f in FIELDS}  # GraphQL field name -> column, to read only what is selected

# The lock order that keeps writers from deadlocking:
# - Writers of examples rows (recordExamples, archive, restore) lock them in executionId order, "C" collation
#   (recording inserts and updates in that order; archive and restore lock their rows first, in it).
# - Writers of example_tags (recordExamples with tags, tagExamples, undo) serialize on this transaction lock, so
#   each reads the tags it replaces as they are: tag writes are set operations computed from the current tags,
#   and two writers reading the same old set would each write their own result, losing one change.
#   recordExamples takes it after writing its examples. Whoever holds it never waits for an examples row: a tag row
#   only takes KEY SHARE on its example, which the examples writers' NO KEY UPDATE locks do not block.
TAGS_LOCK = 0x7461_6773  # also taken by the summary's triggers (migration 0017), as 1952540531

# Change rows past which a reader first folds them into the summary (which bounds what each read adds up), and the
# most it folds at once (which bounds what that read waits for: about 0.1 s at ten million examples).
SUMMARY_FOLD_DUE = 2_000
SUMMARY_FOLD_MOST = 10_000
QUALITY_BINS = 20  # the summary's quality bins: thresholds 0.05, 0.10, ..., 0.95 (see example_quality_bin)


@dataclass(slots=True)
class NewExample:
    """An example as the orchestrator sends it."""

    execution_id: str
    user_request: str
    intent: str | None = None
    platform: str | None = None
    business_state: Any = None
    execution_plan: Any = None
    execution_result: Any = None
    quality_score: float | None = None
    success: bool | None = None
    tags: list[str] | None = None
    created_at: datetime | None = None
    post_publication_metrics: Any = None
    patterns_discovered: list[str] | None = None
    model_id: str | None = None


@dataclass
class Example:
    """A stored example. Fields a query did not select are None."""

    id: int
    execution_id: str | None = None
    user_request: str | None = None
    intent: str | None = None
    platform: str | None = None
    business_state: Any = None
    execution_plan: Any = None
    execution_result: Any = None
    quality_score: float | None = None
    success: bool | None = None
    tags: list[str] | None = None
    archived: bool | None = None
    post_publication_metrics: Any = None
    patterns_discovered: list[str] | None = None
    # Read by examples' own pages as ISO 8601 text, which PostgreSQL writes as datetime.isoformat() would.
    created_at: datetime | str | None = None
    updated_at: datetime | str | None = None
    model_id: str | None = None

    @classmethod
    def from_row(cls, row: Any) -> Example:
        """An example of the columns a query read (a mapping such as a Record): they become its attributes as they
        are (three times faster than Example(**row)), and every other field reads as its class default, None."""
        example = cls.__new__(cls)
        example.__dict__ = dict(row.items())
        return example


@dataclass(frozen=True, slots=True)
class RecordResult:
    inserted: int
    updated: int
    unchanged: int


def normalize_tags(tags: list[str] | None, where: str) -> list[str]:
    """A tag list as a set: sorted, without duplicates; each tag non-empty and short."""
    if not tags:
        return []
    problem = tags_problem(tags)
    if problem is not None:
        raise ValidationError(f"{where}: {problem}")
    return sorted(set(tags))  # code-point order, as PostgreSQL's "C" collation sorts them


def check_no_nul(value: str, where: str) -> None:
    """PostgreSQL text cannot hold U+0000: refuse it with a clear error instead of failing in the database."""
    if "\x00" in value:
        raise ValidationError(f"{where}: {NUL}")


# A recorded example's values in RECORDED order in one call; the checks of the other fields, and those that
# also convert a field's value (position in RECORDED, check) for example_row to store.
_RECORDED_VALUES = operator.attrgetter(*(f.name for f in RECORDED))
_CHECKS = (execution_id, user_request, quality_score, labels, model_id, no_nul)
_CONVERSIONS: list[tuple[int, Callable[[NewExample, int], Any]]] = [
    ([f.name for f in RECORDED].index("tags"), tags),
    ([f.name for f in RECORDED].index("created_at"), created_at),
    *((i, partial(json_field, f.name, f.graphql)) for i, f in enumerate(RECORDED) if f.json),
    *((i, partial(label_list, f.name, f.graphql)) for i, f in enumerate(RECORDED) if f.labels and f.name != "tags"),
]


def example_row(example: NewExample, index: int) -> list[Any]:
    """One example's values in RECORDED order, checked; FieldError at the first broken rule.

    JSON values and label lists become JSON text; times without a zone are taken as UTC.
    """
    for check in _CHECKS:
        check(example, index)
    row = list(_RECORDED_VALUES(example))
    for position, convert in _CONVERSIONS:
        row[position] = convert(example, index)
    return row


def example_problems(example: NewExample, index: int) -> list[Problem]:
    """Every rule the example breaks, each field checked on its own (for an example example_row refused)."""
    found = []
    for check in (*_CHECKS, *(convert for _, convert in _CONVERSIONS)):
        try:
            check(example, index)
        except FieldError as error:
            found.append(problem_of(error))
    return found


def batch_columns(examples: list[NewExample]) -> list[list[Any]]:
    """Validate a whole batch and return it as columns (in RECORDED order) for one upsert.

    Every broken rule is found (BatchError: the first in its message, up to MAX_PROBLEMS in its extensions),
    each naming `examples[i].field`, before anything is written.
    """
    if not examples:
        raise ValidationError("examples: send at least one example")
    if len(examples) > MAX_BATCH:
        raise ValidationError(f"examples: at most {MAX_BATCH} examples per call, got {len(examples)}")
    seen: dict[str, int] = {}
    rows, problems = [], []
    for index, example in enumerate(examples):
        execution_id = example.execution_id
        if execution_id in seen:
            problems.append(Problem(index, "executionId", f"{execution_id!r} appears twice in the batch "
                                                          f"(also at index {seen[execution_id]})"))  # fmt: skip
        seen.setdefault(execution_id, index)
        try:
            rows.append(example_row(example, index))
        except FieldError:
            problems += example_problems(example, index)
    if problems:
        problems.sort(key=lambda p: p.index)
        raise BatchError(problems[:MAX_PROBLEMS], len(problems))
    return [list(column) for column in zip(*rows, strict=True)]
