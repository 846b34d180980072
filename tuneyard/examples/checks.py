"""The rules each field of a new example must satisfy: each check raises FieldError naming the field.

Checks take the example (a NewExample) and its index; those that convert a value return what is stored.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import orjson

from tuneyard.core.graphql.scalars import EARLIEST, LATEST
from tuneyard.examples.json_values import json_text
from tuneyard.examples.problems import FieldError

MAX_BATCH = 1000
MAX_EXECUTION_ID = 255
MAX_USER_REQUEST = 32_768
MAX_LABEL = 100  # intent, platform, each tag and pattern
MAX_MODEL_ID = 255  # room for any provider's id: "ft:gpt-4.1-mini-2025-04-14:org:suffix:id", a Vertex endpoint path
MAX_TAGS = 100

NUL = "must not contain the NUL character (U+0000)"


def tags_problem(tags: list[str]) -> str | None:
    """Why a list of tags is refused (too many, a blank, long or NUL-holding tag), or None."""
    if len(tags) > MAX_TAGS:
        return f"at most {MAX_TAGS} tags, got {len(tags)}"
    for tag in tags:
        if not tag.strip() or len(tag) > MAX_LABEL:
            return f"each tag must be 1..{MAX_LABEL} characters and not blank, got {tag!r}"
        if "\x00" in tag:
            return NUL
    return None


# Each check below takes the example's index and raises FieldError at the first rule it finds broken; the
# `examples[i].field` message is spelled only then (building it for every field was measurable). A batch
# with a refused example runs every check of that example on its own, to report all its problems.


def execution_id(e: Any, index: int) -> None:
    """The key a batch upserts by: 1..255 characters, not blank."""
    if not e.execution_id.strip() or len(e.execution_id) > MAX_EXECUTION_ID:
        raise FieldError(index, "executionId", f"must be 1..{MAX_EXECUTION_ID} characters and not blank")


def user_request(e: Any, index: int) -> None:
    """What the user asked: not blank, at most MAX_USER_REQUEST characters."""
    if not e.user_request.strip():
        raise FieldError(index, "userRequest", "must not be empty")
    if len(e.user_request) > MAX_USER_REQUEST:
        raise FieldError(index, "userRequest", f"at most {MAX_USER_REQUEST} characters")


def quality_score(e: Any, index: int) -> None:
    """A score in [0, 1] (NaN is not), or none."""
    score = e.quality_score
    if score is not None and not (0.0 <= score <= 1.0 and math.isfinite(score)):
        raise FieldError(index, "qualityScore", f"must be between 0 and 1, got {score}")


def labels(e: Any, index: int) -> None:
    """intent and platform: at most MAX_LABEL characters."""
    for name, value in (("intent", e.intent), ("platform", e.platform)):
        if value is not None and len(value) > MAX_LABEL:
            raise FieldError(index, name, f"at most {MAX_LABEL} characters")


def model_id(e: Any, index: int) -> None:
    """The model that decided: null, or 1..MAX_MODEL_ID characters and not blank."""
    model_id = e.model_id
    if model_id is not None and (not model_id.strip() or len(model_id) > MAX_MODEL_ID):
        raise FieldError(index, "modelId", f"must be 1..{MAX_MODEL_ID} characters and not blank (or null)")


def no_nul(e: Any, index: int) -> None:
    """No text field holds U+0000, which PostgreSQL cannot store (one scan when none does)."""
    intent, platform, model_id = e.intent, e.platform, e.model_id
    if (
        "\x00" in e.execution_id or "\x00" in e.user_request or (intent is not None and "\x00" in intent)
        or (platform is not None and "\x00" in platform) or (model_id is not None and "\x00" in model_id)
    ):  # fmt: skip
        for name, value in (("executionId", e.execution_id), ("userRequest", e.user_request), ("intent", intent),
                            ("platform", platform), ("modelId", model_id)):  # fmt: skip
            if value is not None and "\x00" in value:
                raise FieldError(index, name, NUL)


def created_at(e: Any, index: int) -> datetime | None:
    """The time, taken as UTC when it has no zone, within the years Tuneyard stores."""
    created_at = e.created_at
    if created_at is None:
        return None
    if created_at.tzinfo is None:
        created_at = created_at.replace(tzinfo=UTC)
    try:
        in_range = EARLIEST <= created_at <= LATEST
    except OverflowError:  # an offset that takes it past year 9999 or before year 1
        in_range = False
    if not in_range:
        raise FieldError(
            index, "createdAt", f"must be between 1900-01-01T00:00:00Z and 9999-12-31T23:59:59Z, got {e.created_at}"
        )
    return created_at


def tags(e: Any, index: int) -> str:
    """The tags as a set (sorted, no duplicates) in JSON text; "[]" for none."""
    tags = e.tags
    if not tags:
        return "[]"
    problem = tags_problem(tags)
    if problem is not None:
        raise FieldError(index, "tags", problem)
    return orjson.dumps(sorted(set(tags))).decode()


def label_list(attribute: str, name: str, e: Any, index: int) -> str | None:
    """A short list of labels as JSON text, for the database to unpack."""
    values: list[str] | None = getattr(e, attribute)
    if values is None:
        return None
    if len(values) > MAX_TAGS:
        raise FieldError(index, name, f"at most {MAX_TAGS} items, got {len(values)}")
    for value in values:
        if len(value) > MAX_LABEL:
            raise FieldError(index, name, f"at most {MAX_LABEL} characters")
        if "\x00" in value:
            raise FieldError(index, name, NUL)
    return orjson.dumps(values).decode()


def json_field(attribute: str, name: str, e: Any, index: int) -> str | None:
    """A JSON field's value as JSON text once it satisfies every rule (see json_values); None for null."""
    value = getattr(e, attribute)
    if value is None:
        return None
    text, problem = json_text(name, value)
    if problem is not None:
        raise FieldError(index, name, problem)
    return text
