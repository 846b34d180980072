"""ExampleFilter: a JSON document (the GraphQL input's shape) compiled to one parameterised SQL condition.

A filter is a mapping with the GraphQL field names of ExampleFilter (`intent`, `qualityScore`,
`tags`, `and`, ...). Fields are ANDed. Leaf conditions on a missing value (a null intent or
score) are false, also under `not`: `not: {qualityScore: {gte: 0.8}}` matches examples with a
score below 0.8 and those without a score. `neq` and `notIn` match nulls.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from tuneyard.core.db import Condition
from tuneyard.core.errors import ValidationError
from tuneyard.core.ids import parse_id
from tuneyard.examples.models import check_no_nul

MAX_DEPTH = 5
MAX_LIST = 1000
MAX_TEXT = 1000  # characters of a `text` search: websearch_to_tsquery's work grows with it
# PostgreSQL takes at most 32,767 parameters in a statement; the statement around a filter keeps the rest.
MAX_PARAMS = 32_000

Filter = Mapping[str, Any]

_STRING_COLUMNS = {
    "executionId": "e.execution_id", "intent": "e.intent", "platform": "e.platform", "modelId": "e.model_id",
}  # fmt: skip
_COMPARISONS = {"eq": "=", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}
_FIELDS = {
    "and", "or", "not", "ids", "executionId", "intent", "platform", "modelId", "qualityScore", "success",
    "createdAt", "tags", "text", "archived",
}  # fmt: skip


class _Compiler:
    def __init__(self) -> None:
        self.params: list[Any] = []
        self.per_value_plan = False  # a `text` or `tags` condition: its best plan depends on the words or tags

    def param(self, value: Any) -> str:
        if len(self.params) >= MAX_PARAMS:
            raise ValidationError(
                f"filter: needs more than {MAX_PARAMS:,} SQL parameters (one per condition with a value): "
                "put the values of many conditions in one list (`in`, `ids`, `tags`)"
            )
        self.params.append(value)
        return f"${len(self.params)}"

    def filter(self, spec: Filter, where: str, depth: int) -> list[str]:
        if depth > MAX_DEPTH:
            raise ValidationError(f"{where}: filters nest at most {MAX_DEPTH} levels deep")
        unknown = set(spec) - _FIELDS
        if unknown:
            raise ValidationError(f"{where}: unknown filter field(s) {', '.join(sorted(unknown))}")
        parts: list[str] = []
        for key, value in spec.items():
            if value is None:
                continue
            at = f"{where}.{key}"
            if key in ("and", "or"):
                subs = [self.group(s, f"{at}[{i}]", depth + 1) for i, s in enumerate(_bounded(value, at))]
                if subs:
                    parts.append("(" + f" {key.upper()} ".join(subs) + ")")
            elif key == "not":
                # coalesce: a condition on a missing value is false, so its negation is true.
                parts.append(f"NOT coalesce({self.group(value, at, depth + 1)}, false)")
            elif key == "ids":
                parts.append(f"e.id = ANY({self.param(_ids(value, at))}::bigint[])")
            elif key in _STRING_COLUMNS:
                parts += string_conditions(_STRING_COLUMNS[key], value, self.param, at)
            elif key == "qualityScore":
                parts += self.number("e.quality_score", value, at)
            elif key == "createdAt":
                parts += [f"e.created_at {_COMPARISONS[op]} {self.param(_time(v, f'{at}.{op}'))}"
                          for op, v in value.items() if v is not None]  # fmt: skip
            elif key == "success":
                parts.append(f"e.success = {self.param(bool(value))}")
            elif key == "archived":
                parts.append("e.archived" if value else "NOT e.archived")
            elif key == "text":
                if not str(value).strip():
                    raise ValidationError(f"{at}: search text must not be empty")
                if len(str(value)) > MAX_TEXT:
                    raise ValidationError(f"{at}: search text is {len(str(value)):,} characters, at most {MAX_TEXT:,}")
                check_no_nul(str(value), at)
                self.per_value_plan = True
                parts.append(
                    f"to_tsvector('simple', e.user_request) @@ websearch_to_tsquery('simple', {self.param(value)})"
                )
            elif key == "tags":
                self.per_value_plan = True
                parts += self.tags(value, at)
        return parts

    def group(self, spec: Filter, where: str, depth: int) -> str:
        parts = self.filter(spec, where, depth)
        return "(" + " AND ".join(parts) + ")" if parts else "true"

    def number(self, column: str, spec: Mapping[str, Any], at: str) -> list[str]:
        parts = []
        for op, value in spec.items():
            if value is None:
                continue
            if op == "isNull":
                parts.append(f"{column} IS {'' if value else 'NOT '}NULL")
            else:
                parts.append(f"{column} {_COMPARISONS[op]} {self.param(float(value))}::float8")
        return parts

    def tags(self, spec: Mapping[str, Any], at: str) -> list[str]:
        # Tags live in example_tags (a row only for tagged examples): conditions become (NOT) EXISTS,
        # which PostgreSQL runs as semi/anti joins driven by the GIN index on example_tags.tags.
        parts = []
        for op, value in spec.items():
            if value is None:
                continue
            if op == "isEmpty":
                parts.append(f"{'NOT ' if value else ''}EXISTS ({_TAGGED})")
                continue
            tags = _texts(value, f"{at}.{op}")
            if not tags:  # an empty list: containsAny matches nothing, containsAll and containsNone everything
                parts += ["false"] if op == "containsAny" else []
                continue
            found = f"EXISTS ({_TAGGED} AND t.tags {'@>' if op == 'containsAll' else '&&'} {self.param(tags)}::text[])"
            parts.append(f"NOT {found}" if op == "containsNone" else found)
        return parts


def string_conditions(column: str, spec: Mapping[str, Any], param: Callable[[Any], str], at: str) -> list[str]:
    """A StringFilter's conditions on `column` (its values checked, and made parameters by `param`): over an example's
    column here, over a summary row's in summary_filter, written the same way so that both agree."""
    parts = []
    for op, value in spec.items():
        if value is None:
            continue
        if op == "eq":
            parts.append(f"{column} = {param(_text(value, f'{at}.eq'))}")
        elif op == "neq":
            parts.append(f"{column} IS DISTINCT FROM {param(_text(value, f'{at}.neq'))}")
        elif op == "in":
            parts.append(f"{column} = ANY({param(_texts(value, f'{at}.in'))}::text[])")
        elif op == "notIn":
            values = param(_texts(value, f"{at}.notIn"))
            parts.append(f"({column} IS NULL OR NOT {column} = ANY({values}::text[]))")
        elif op == "isNull":
            parts.append(f"{column} IS {'' if value else 'NOT '}NULL")
    return parts


_TAGGED = "SELECT 1 FROM example_tags t WHERE t.example_id = e.id"


def _bounded(values: Sequence[Any], at: str) -> list[Any]:
    if len(values) > MAX_LIST:
        raise ValidationError(f"{at}: at most {MAX_LIST} items, got {len(values)}")
    return list(values)


def _text(value: str, at: str) -> str:
    check_no_nul(value, at)
    return value


def _texts(values: Sequence[str], at: str) -> list[str]:
    return [_text(v, at) for v in _bounded(values, at)]


def _ids(values: Sequence[Any], at: str) -> list[int]:
    return [parse_id(v, "example", f"{at}[{i}]") for i, v in enumerate(_bounded(values, at))]


def _time(value: Any, at: str) -> datetime:
    if isinstance(value, datetime):
        return value
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        raise ValidationError(f"{at}: not an ISO 8601 date-time: {value!r}") from None


def compile_filter(spec: Filter | None, *, archived_default: bool = False) -> Condition:
    """The SQL condition over alias `e`, with its parameters $1..$n.

    When the top level does not set `archived`, only examples whose archived flag equals
    `archived_default` match (not archived, unless restoring).
    """
    spec = spec or {}
    compiler = _Compiler()
    parts = compiler.filter(spec, "filter", 1)
    if spec.get("archived") is None:
        parts.insert(0, "e.archived" if archived_default else "NOT e.archived")
    return Condition(" AND ".join(parts), compiler.params, compiler.per_value_plan)
