"""An independent Python evaluation of ExampleFilter, to check the SQL the server compiles."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any


def _string(value: str | None, spec: dict[str, Any]) -> bool:
    checks = {
        "eq": lambda v: value == v,
        "neq": lambda v: value != v,
        "in": lambda v: value in v,
        "notIn": lambda v: value not in v,
        "isNull": lambda v: (value is None) == v,
    }
    return all(checks[op](v) for op, v in spec.items() if v is not None)


def _number(value: float | None, spec: dict[str, Any]) -> bool:
    if spec.get("isNull") is not None and (value is None) != spec["isNull"]:
        return False
    bounds = {k: v for k, v in spec.items() if k != "isNull" and v is not None}
    if not bounds:
        return True
    if value is None:
        return False
    checks = {"eq": value.__eq__, "gt": value.__gt__, "gte": value.__ge__, "lt": value.__lt__, "lte": value.__le__}
    return all(checks[op](float(v)) for op, v in bounds.items())


def _time(value: datetime, spec: dict[str, Any]) -> bool:
    checks = {"gt": value.__gt__, "gte": value.__ge__, "lt": value.__lt__, "lte": value.__le__}
    return all(checks[op](datetime.fromisoformat(v) if isinstance(v, str) else v) for op, v in spec.items() if v)


def _tags(tags: list[str], spec: dict[str, Any]) -> bool:
    have = set(tags)
    checks = {
        "containsAny": lambda v: bool(have & set(v)),
        "containsAll": lambda v: set(v) <= have,
        "containsNone": lambda v: not (have & set(v)),
        "isEmpty": lambda v: (not have) == v,
    }
    return all(checks[op](v) for op, v in spec.items() if v is not None)


def matches(example: dict[str, Any], spec: dict[str, Any], top: bool = True) -> bool:
    """Does an example (a row with snake_case keys) match a filter document?"""
    if top and spec.get("archived") is None and example["archived"]:
        return False
    for key, value in spec.items():
        if value is None:
            continue
        ok = {
            "and": lambda v: all(matches(example, s, False) for s in v),
            "or": lambda v: not v or any(matches(example, s, False) for s in v),  # an empty `or` adds no condition
            "not": lambda v: not matches(example, v, False),
            "ids": lambda v: example["id"] in {int(i) for i in v},
            "executionId": lambda v: _string(example["execution_id"], v),
            "intent": lambda v: _string(example["intent"], v),
            "platform": lambda v: _string(example["platform"], v),
            "modelId": lambda v: _string(example["model_id"], v),
            "qualityScore": lambda v: _number(example["quality_score"], v),
            "success": lambda v: example["success"] is v,
            "createdAt": lambda v: _time(example["created_at"], v),
            "tags": lambda v: _tags(example["tags"], v),
            "archived": lambda v: example["archived"] is v,
            # websearch_to_tsquery('simple', plain words): every word is one of userRequest's tokens.
            "text": lambda v: set(v.lower().split()) <= set(re.findall(r"[a-z0-9]+", example["user_request"].lower())),
        }[key](value)
        if not ok:
            return False
    return True
