"""RAW: the whole frozen record (scores, metrics and tags included), camelCase like the API.

Fields added after versions existed (modelId) are in a line only when set: a version frozen before them exports the
same bytes as it always did.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import orjson

from tuneyard.datasets.exports.formats.base import Exporter, TrainingText, check_keys, check_text
from tuneyard.datasets.models import ExportFormat, FrozenExample
from tuneyard.examples.models import FROZEN

KEYS = frozenset(("exampleId", "split", *(f.graphql for f in FROZEN)))
REQUIRED = KEYS - {f.graphql for f in FROZEN if f.omitted_when_null}


def _json(text: str | None) -> orjson.Fragment | None:
    """Stored JSON text, embedded as it is."""
    return None if text is None else orjson.Fragment(text)


class Raw(Exporter):
    format = ExportFormat.RAW

    def record(self, example: FrozenExample, text: TrainingText) -> dict[str, Any]:
        record: dict[str, Any] = {"exampleId": str(example.example_id)}
        for field in FROZEN:
            value = getattr(example, field.name)
            if value is None and field.omitted_when_null:
                continue
            if field.json:
                value = _json(value)
            elif isinstance(value, datetime):
                value = value.astimezone(UTC).isoformat()
            record[field.graphql] = value
            if field.name == "execution_id":  # the split follows the key, as it always has
                record["split"] = example.split.value
        return record

    def validate(self, record: Any) -> list[str]:
        problems = check_keys(record, REQUIRED, KEYS)
        if not isinstance(record, Mapping):
            return problems
        problems += check_text(record.get("executionId"), "executionId")
        problems += check_text(record.get("userRequest"), "userRequest")
        if record.get("split") not in ("TRAIN", "VALIDATION"):
            problems.append("split: must be TRAIN or VALIDATION")
        score = record.get("qualityScore")
        if score is not None and not (isinstance(score, int | float) and 0 <= score <= 1):
            problems.append("qualityScore: must be null or between 0 and 1")
        if not isinstance(record.get("tags"), list):
            problems.append("tags: must be a list")
        if "modelId" in record:
            problems += check_text(record["modelId"], "modelId")
        return problems
