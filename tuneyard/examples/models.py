"""Examples: one recorded execution of the orchestrator, its fields, and the rules a new one must satisfy."""

from __future__ import annotations

import math
import operator
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from tuneyard.core.errors import ValidationError

MAX_BATCH = 1000
MAX_EXECUTION_ID = 255
MAX_USER_REQUEST = 32_768
MAX_LABEL = 100  # intent, platform, each tag and pattern
MAX_MODEL_ID = 255  # room for any provider's id: "ft:gpt-4.1-mini-2025-04-14:org:suffix:id", a Vertex endpoint path
MAX_TAGS = 100
MAX_JSON_BYTES = 262_144  # per JSON field, serialized


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
TAGS_LOCK = 0x7461_6773


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


@dataclass(slots=True)
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
    created_at: datetime | None = None
    updated_at: datetime | None = None
    model_id: str | None = None


@dataclass(frozen=True, slots=True)
class RecordResult:
    inserted: int
    updated: int
    unchanged: int


def normalize_tags(tags: list[str] | None, where: str) -> list[str]:
    """A tag list as a set: sorted, without duplicates; each tag non-empty and short."""
    if not tags:
        return []
    if len(tags) > MAX_TAGS:
        raise ValidationError(f"{where}: at most {MAX_TAGS} tags, got {len(tags)}")
    for tag in tags:
        if not tag.strip() or len(tag) > MAX_LABEL:
            raise ValidationError(f"{where}: each tag must be 1..{MAX_LABEL} characters and not blank, got {tag!r}")
        if "\x00" in tag:
            check_no_nul(tag, where)
    return sorted(set(tags))  # code-point order, as PostgreSQL's "C" collation sorts them


def check_no_nul(value: str, where: str) -> None:
    """PostgreSQL text cannot hold U+0000: refuse it with a clear error instead of failing in the database."""
    if "\x00" in value:
        raise ValidationError(f"{where}: must not contain the NUL character (U+0000)")


# Each check below takes the example's index and the field's name, and spells `examples[i].field` only when it
# refuses: building those strings for every field of every example was a measurable part of recording a batch.


def _check_label(value: str | None, index: int, name: str) -> None:
    if value is not None and len(value) > MAX_LABEL:
        raise ValidationError(f"examples[{index}].{name}: at most {MAX_LABEL} characters")


MAX_JSON_DEPTH = 64  # nesting of arrays and objects in a JSON field; deeper values break encoders downstream


def _deeper_than(value: Any, limit: int) -> bool:
    """Whether arrays and objects nest in `value` more than `limit` levels deep (iteratively: no recursion)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


# An escaped NUL in orjson's output: \u0000 whose backslash is not itself escaped (preceded by an even run of them).
_JSON_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")


def _json_text(value: Any, index: int, name: str) -> str:
    try:
        encoded = orjson.dumps(value)
    except TypeError as error:  # orjson stops at 255 levels: say what is wrong in our terms
        if _deeper_than(value, MAX_JSON_DEPTH):
            raise _too_deep(index, name) from error
        raise ValidationError(f"examples[{index}].{name}: not JSON-serializable ({error})") from error
    if len(encoded) > MAX_JSON_BYTES:
        raise ValidationError(
            f"examples[{index}].{name}: {len(encoded)} bytes of JSON, at most {MAX_JSON_BYTES} allowed"
        )
    if b"\\u0000" in encoded and _JSON_NUL.search(encoded):  # jsonb cannot hold U+0000 either
        raise ValidationError(f"examples[{index}].{name}: must not contain the NUL character (U+0000)")
    # Counting brackets (in C) bounds the depth from above: only a value with many of them is walked.
    if encoded.count(b"[") + encoded.count(b"{") > MAX_JSON_DEPTH and _deeper_than(value, MAX_JSON_DEPTH):
        raise _too_deep(index, name)
    return encoded.decode()


def _too_deep(index: int, name: str) -> ValidationError:
    return ValidationError(f"examples[{index}].{name}: arrays and objects nest more than {MAX_JSON_DEPTH} levels")


def _label_list(values: list[str], index: int, name: str) -> str:
    """A short list of labels as JSON text, for the database to unpack."""
    if len(values) > MAX_TAGS:
        raise ValidationError(f"examples[{index}].{name}: at most {MAX_TAGS} items, got {len(values)}")
    for value in values:
        _check_label(value, index, name)
        if "\x00" in value:
            check_no_nul(value, f"examples[{index}].{name}")
    return orjson.dumps(values).decode()


# A recorded example's values in RECORDED order in one call, and where batch_columns rewrites some of them.
_RECORDED_VALUES = operator.attrgetter(*(f.name for f in RECORDED))
_TAGS = [f.name for f in RECORDED].index("tags")
_CREATED_AT = [f.name for f in RECORDED].index("created_at")
_JSON_FIELDS = [(i, f.graphql) for i, f in enumerate(RECORDED) if f.json]
_LABEL_FIELDS = [(i, f.graphql) for i, f in enumerate(RECORDED) if f.labels and i != _TAGS]


def batch_columns(examples: list[NewExample]) -> list[list[Any]]:
    """Validate a whole batch and return it as columns (in RECORDED order) for one upsert.

    Any broken rule raises ValidationError naming `examples[i].field`, before anything is written.
    JSON values and label lists travel as JSON text; times without a zone are taken as UTC.
    """
    if not examples:
        raise ValidationError("examples: send at least one example")
    if len(examples) > MAX_BATCH:
        raise ValidationError(f"examples: at most {MAX_BATCH} examples per call, got {len(examples)}")
    seen: dict[str, int] = {}
    rows = []
    for index, example in enumerate(examples):
        execution_id = example.execution_id
        if not execution_id.strip() or len(execution_id) > MAX_EXECUTION_ID:
            raise ValidationError(
                f"examples[{index}].executionId: must be 1..{MAX_EXECUTION_ID} characters and not blank"
            )
        if execution_id in seen:
            raise ValidationError(
                f"examples[{index}].executionId: {execution_id!r} appears twice in the batch "
                f"(also at index {seen[execution_id]})"
            )
        seen[execution_id] = index
        user_request = example.user_request
        if not user_request.strip():
            raise ValidationError(f"examples[{index}].userRequest: must not be empty")
        if len(user_request) > MAX_USER_REQUEST:
            raise ValidationError(f"examples[{index}].userRequest: at most {MAX_USER_REQUEST} characters")
        score = example.quality_score
        if score is not None and not (0.0 <= score <= 1.0 and math.isfinite(score)):
            raise ValidationError(f"examples[{index}].qualityScore: must be between 0 and 1, got {score}")
        intent, platform, model_id = example.intent, example.platform, example.model_id
        _check_label(intent, index, "intent")
        _check_label(platform, index, "platform")
        if model_id is not None and (not model_id.strip() or len(model_id) > MAX_MODEL_ID):
            raise ValidationError(
                f"examples[{index}].modelId: must be 1..{MAX_MODEL_ID} characters and not blank (or null)"
            )
        if (
            "\x00" in execution_id or "\x00" in user_request or (intent is not None and "\x00" in intent)
            or (platform is not None and "\x00" in platform) or (model_id is not None and "\x00" in model_id)
        ):  # fmt: skip
            for name, value in (("executionId", execution_id), ("userRequest", user_request), ("intent", intent),
                                ("platform", platform), ("modelId", model_id)):  # fmt: skip
                check_no_nul(value or "", f"examples[{index}].{name}")
        created_at = example.created_at
        if created_at is not None and created_at.tzinfo is None:
            created_at = created_at.replace(tzinfo=UTC)
        row = list(_RECORDED_VALUES(example))
        tags = example.tags
        row[_TAGS] = orjson.dumps(normalize_tags(tags, f"examples[{index}].tags")).decode() if tags else "[]"
        row[_CREATED_AT] = created_at
        for i, name in _JSON_FIELDS:
            if row[i] is not None:
                row[i] = _json_text(row[i], index, name)
        for i, name in _LABEL_FIELDS:
            if row[i] is not None:
                row[i] = _label_list(row[i], index, name)
        rows.append(row)
    return [list(column) for column in zip(*rows, strict=True)]
