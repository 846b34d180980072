"""Examples: one recorded execution of the orchestrator, and the rules a new one must satisfy."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from tuneyard.core.errors import ValidationError

MAX_BATCH = 1000
MAX_EXECUTION_ID = 255
MAX_USER_REQUEST = 32_768
MAX_LABEL = 100  # intent, platform, each tag and pattern
MAX_TAGS = 100
MAX_JSON_BYTES = 262_144  # per JSON field, serialized


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


@dataclass(frozen=True, slots=True)
class RecordResult:
    inserted: int
    updated: int
    unchanged: int


# The order of the columns batch_columns returns.
BATCH_COLUMNS = (
    "execution_id", "user_request", "intent", "platform", "business_state", "execution_plan",
    "execution_result", "quality_score", "success", "tags", "created_at", "post_publication_metrics",
    "patterns_discovered",
)  # fmt: skip


def normalize_tags(tags: list[str] | None, where: str) -> list[str]:
    """A tag list as a set: sorted, without duplicates; each tag non-empty and short."""
    if not tags:
        return []
    if len(tags) > MAX_TAGS:
        raise ValidationError(f"{where}: at most {MAX_TAGS} tags, got {len(tags)}")
    for tag in tags:
        if not tag.strip() or len(tag) > MAX_LABEL:
            raise ValidationError(f"{where}: each tag must be 1..{MAX_LABEL} characters and not blank, got {tag!r}")
    return sorted(set(tags))  # code-point order, as PostgreSQL's "C" collation sorts them


def _check_label(value: str | None, where: str) -> None:
    if value is not None and len(value) > MAX_LABEL:
        raise ValidationError(f"{where}: at most {MAX_LABEL} characters")


def _json_text(value: Any, where: str) -> str | None:
    if value is None:
        return None
    try:
        encoded = orjson.dumps(value)
    except TypeError as error:
        raise ValidationError(f"{where}: not JSON-serializable ({error})") from error
    if len(encoded) > MAX_JSON_BYTES:
        raise ValidationError(f"{where}: {len(encoded)} bytes of JSON, at most {MAX_JSON_BYTES} allowed")
    return encoded.decode()


def _label_list(values: list[str] | None, where: str) -> str | None:
    """A short list of labels as JSON text, for the database to unpack."""
    if values is None:
        return None
    if len(values) > MAX_TAGS:
        raise ValidationError(f"{where}: at most {MAX_TAGS} items, got {len(values)}")
    for value in values:
        _check_label(value, where)
    return orjson.dumps(values).decode()


def batch_columns(examples: list[NewExample]) -> list[list[Any]]:
    """Validate a whole batch and return it as columns (in BATCH_COLUMNS order) for one upsert.

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
        at = f"examples[{index}]"
        execution_id = example.execution_id
        if not execution_id.strip() or len(execution_id) > MAX_EXECUTION_ID:
            raise ValidationError(f"{at}.executionId: must be 1..{MAX_EXECUTION_ID} characters and not blank")
        if execution_id in seen:
            raise ValidationError(
                f"{at}.executionId: {execution_id!r} appears twice in the batch (also at index {seen[execution_id]})"
            )
        seen[execution_id] = index
        if not example.user_request.strip():
            raise ValidationError(f"{at}.userRequest: must not be empty")
        if len(example.user_request) > MAX_USER_REQUEST:
            raise ValidationError(f"{at}.userRequest: at most {MAX_USER_REQUEST} characters")
        score = example.quality_score
        if score is not None and not (0.0 <= score <= 1.0 and math.isfinite(score)):
            raise ValidationError(f"{at}.qualityScore: must be between 0 and 1, got {score}")
        _check_label(example.intent, f"{at}.intent")
        _check_label(example.platform, f"{at}.platform")
        created_at = example.created_at
        if created_at is not None and created_at.tzinfo is None:
            created_at = created_at.replace(tzinfo=UTC)
        rows.append((
            execution_id,
            example.user_request,
            example.intent,
            example.platform,
            _json_text(example.business_state, f"{at}.businessState"),
            _json_text(example.execution_plan, f"{at}.executionPlan"),
            _json_text(example.execution_result, f"{at}.executionResult"),
            score,
            example.success,
            _label_list(normalize_tags(example.tags, f"{at}.tags"), f"{at}.tags"),
            created_at,
            _json_text(example.post_publication_metrics, f"{at}.postPublicationMetrics"),
            _label_list(example.patterns_discovered, f"{at}.patternsDiscovered"),
        ))  # fmt: skip
    return [list(column) for column in zip(*rows, strict=True)]
