"""RAW: the whole frozen record (scores, metrics and tags included), camelCase like the API."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC
from typing import Any

import orjson

from tuneyard.datasets.exports.formats.base import Exporter, TrainingText, check_keys, check_text
from tuneyard.datasets.models import ExportFormat, FrozenExample

KEYS = frozenset((
    "exampleId", "executionId", "split", "userRequest", "intent", "platform", "businessState", "executionPlan",
    "executionResult", "qualityScore", "success", "tags", "postPublicationMetrics", "patternsDiscovered",
    "createdAt", "updatedAt",
))  # fmt: skip


def _json(text: str | None) -> orjson.Fragment | None:
    """Stored JSON text, embedded as it is."""
    return None if text is None else orjson.Fragment(text)


class Raw(Exporter):
    format = ExportFormat.RAW

    def record(self, example: FrozenExample, text: TrainingText) -> dict[str, Any]:
        e = example
        return {
            "exampleId": str(e.example_id), "executionId": e.execution_id, "split": e.split.value,
            "userRequest": e.user_request, "intent": e.intent, "platform": e.platform,
            "businessState": _json(e.business_state), "executionPlan": _json(e.execution_plan),
            "executionResult": _json(e.execution_result), "qualityScore": e.quality_score, "success": e.success,
            "tags": e.tags, "postPublicationMetrics": _json(e.post_publication_metrics),
            "patternsDiscovered": e.patterns_discovered,
            "createdAt": e.created_at.astimezone(UTC).isoformat(), "updatedAt": e.updated_at.astimezone(UTC).isoformat(),
        }  # fmt: skip

    def validate(self, record: Any) -> list[str]:
        problems = check_keys(record, KEYS, KEYS)
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
        return problems
