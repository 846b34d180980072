"""An ExampleFilter as a condition over the example summary (migration 0017), when the summary can answer it exactly.

A summary row (alias `s`) holds what a filter may ask of an example without reading it: its UTC day, intent, platform,
model id, success, archived flag, quality bin and tag set. Each condition the summary answers is written over the
summary's column exactly as filter_sql writes it over the example's, so it is true, false or null for a summary row
exactly when it is for each example the row counts: and/or/not (with their null handling) then agree too.

The summary is kept by day and by month. A filter becomes parts that add up (no example in two): month rows for
the whole months of its time range (all of them without one), day rows for the whole days around those, and the
examples of a partial first and last day, read from the examples (one day each, however many examples there are).
So a createdAt range at the top level of the filter (one lower bound, one upper bound, or both) may start and end
at any time; anywhere else a createdAt bound must be a gte/lt bound at midnight UTC, and only day rows answer it.

What a summary row cannot tell apart stays with the examples: `ids`, `executionId`, `text`, a qualityScore bound
that is not a bin threshold, createdAt bounds other than the above. compile_summary_filter returns None for a filter
with any of them. The filter must have passed compile_filter (which checks it) first.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from tuneyard.core.db import Condition
from tuneyard.examples.filter_sql import Filter, string_conditions
from tuneyard.examples.models import QUALITY_BINS

_THRESHOLDS = {k / QUALITY_BINS: k for k in range(1, QUALITY_BINS)}  # the double nearest k/20 is SQL's 0.05 * k literal
_STRING_COLUMNS = {"intent": "s.intent", "platform": "s.platform", "modelId": "s.model_id"}


class _Unanswerable(Exception):
    """The summary cannot answer this part of the filter exactly."""


class _Compiler:
    def __init__(self) -> None:
        self.params: list[Any] = []
        self.within_days = False  # a createdAt bound below the top: day rows answer it, month rows do not

    def param(self, value: Any) -> str:
        self.params.append(value)
        return f"${len(self.params)}"

    def filter(self, spec: Filter) -> list[str]:
        parts: list[str] = []
        for key, value in spec.items():
            if value is None:
                continue
            if key in ("and", "or"):
                subs = [self.group(s) for s in value]
                if subs:
                    parts.append("(" + f" {key.upper()} ".join(subs) + ")")
            elif key == "not":
                parts.append(f"NOT coalesce({self.group(value)}, false)")
            elif key in _STRING_COLUMNS:
                parts += string_conditions(_STRING_COLUMNS[key], value, self.param, key)
            elif key == "qualityScore":
                parts += [self.quality(op, v) for op, v in value.items() if v is not None]
            elif key == "createdAt":
                parts += [self.created_at(op, v) for op, v in value.items() if v is not None]
            elif key == "success":
                parts.append(f"s.success = {self.param(bool(value))}")
            elif key == "archived":
                parts.append("s.archived" if value else "NOT s.archived")
            elif key == "tags":
                parts += self.tags(value)
            else:  # ids, executionId, text: a summary row counts examples these tell apart
                raise _Unanswerable(key)
        return parts

    def group(self, spec: Filter) -> str:
        parts = self.filter(spec)
        return "(" + " AND ".join(parts) + ")" if parts else "true"

    def quality(self, op: str, value: Any) -> str:
        if op == "isNull":
            return f"s.quality_bin IS {'' if value else 'NOT '}NULL"
        bound = float(value)
        if (op == "gte" and bound == 0) or (op == "lte" and bound == 1):
            return "s.quality_bin >= 0"  # every score (scores lie in [0, 1]); null without one, as the comparison is
        if op in ("gte", "lt") and bound in _THRESHOLDS:
            return f"s.quality_bin {'>=' if op == 'gte' else '<'} {_THRESHOLDS[bound]}"
        raise _Unanswerable("qualityScore")

    def created_at(self, op: str, value: Any) -> str:
        at = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
        if at.tzinfo is None or op not in ("gte", "lt"):
            raise _Unanswerable("createdAt")
        at = at.astimezone(UTC)
        if at.time() != time(0):
            raise _Unanswerable("createdAt")
        self.within_days = True
        return f"s.day {'>=' if op == 'gte' else '<'} {self.param(at.date())}::date"

    def tags(self, spec: Mapping[str, Any]) -> list[str]:
        parts = []
        for op, value in spec.items():
            if value is None:
                continue
            if op == "isEmpty":
                parts.append(f"s.tags {'=' if value else '<>'} '{{}}'")
            elif not value:  # as filter_sql: containsAny of nothing matches nothing, the others everything
                parts += ["false"] if op == "containsAny" else []
            else:
                found = f"s.tags {'@>' if op == 'containsAll' else '&&'} {self.param(list(value))}::text[]"
                parts.append(f"NOT {found}" if op == "containsNone" else found)
        return parts


# The summary's rows as one relation each way: by day, and by month (`day` is then the month's first day). A change
# not folded yet is in both, rolled up to its month in the second; a reader adds up rows of one key from both sides.
DAY_ROWS = "(SELECT * FROM example_summary UNION ALL SELECT * FROM example_summary_changes)"
MONTH_ROWS = (
    "(SELECT * FROM example_summary_months UNION ALL SELECT date_trunc('month', c.day)::date, c.intent, c.platform, "
    "c.model_id, c.success, c.archived, c.quality_bin, c.tags, c.n, c.score_sum FROM example_summary_changes c)"
)


def compile_summary_filter(
    spec: Filter | None, rows: Condition, *, archived_default: bool = False
) -> tuple[Condition, ...] | None:
    """The parts that add up to the selection of `rows` (compile_filter(spec, ...)), or None where the summary cannot
    answer it: month rows for whole months, day rows for the whole days around them, examples for partial days."""
    spec = dict(spec or {})
    compiler = _Compiler()
    span = spec.pop("createdAt", None)
    try:
        parts = compiler.filter(spec)
        first, end, edges = _span(rows, span) if span else (None, None, [])
    except _Unanswerable:
        return None
    if spec.get("archived") is None:
        parts.insert(0, "s.archived" if archived_default else "NOT s.archived")
    base = Condition(" AND ".join(parts), compiler.params)
    month_on_or_after = None if first is None else first if first.day == 1 else _next_month(first)
    month_before = None if end is None else end.replace(day=1)
    if compiler.within_days or (month_on_or_after and month_before and month_on_or_after >= month_before):
        return (_within(base, DAY_ROWS, first, end), *edges)  # a midnight bound in and/or/not, or within a month
    found = [_within(base, MONTH_ROWS, month_on_or_after, month_before)]
    if first is not None and month_on_or_after is not None and first < month_on_or_after:
        found.append(_within(base, DAY_ROWS, first, month_on_or_after))
    if end is not None and month_before is not None and month_before < end:
        found.append(_within(base, DAY_ROWS, month_before, end))
    return (*found, *edges)


def _next_month(day: date) -> date:
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)


def _within(base: Condition, relation: str, start: date | None, end: date | None) -> Condition:
    """`base` over `relation`, on its rows of days from `start` (unless None) and before `end` (unless None)."""
    parts, params = [base.sql], list(base.params)
    for bound, op in ((start, ">="), (end, "<")):
        if bound is not None:
            params.append(bound)
            parts.append(f"s.day {op} ${len(params)}::date")
    return Condition(" AND ".join(parts), params, relation=relation)


def _span(rows: Condition, span: Mapping[str, Any]) -> tuple[date | None, date | None, list[Condition]]:
    """A top-level createdAt range: its first whole day and the day after its last whole one (None: unbounded), and
    the examples of its partial first and last day, as conditions over `e` (the filter's own, restricted to before
    the first whole day / from the end of the last one on)."""
    bounds = {op: _utc(v) for op, v in span.items() if v is not None}
    lower = [op for op in bounds if op in ("gt", "gte")]
    upper = [op for op in bounds if op in ("lt", "lte")]
    if len(lower) > 1 or len(upper) > 1:
        raise _Unanswerable("createdAt")
    first = end = None
    edges = []
    if lower:
        at = bounds[lower[0]]
        whole = lower[0] == "gte" and at.time() == time(0)  # the range starts with this day whole
        first = at.date() + (timedelta(0) if whole else timedelta(days=1))
        if not whole:
            edges.append(_examples(rows, "<", first))
    if upper:
        at = bounds[upper[0]]
        end = at.date()  # the range's last whole day is the one before
        if upper[0] == "lte" or at.time() != time(0):  # something of the day `end` is in the range
            edges.append(_examples(rows, ">=", max(end, first) if first else end))
    return first, end, edges


def _utc(value: Any) -> datetime:
    at = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    if at.tzinfo is None:  # as compile_filter sends it: PostgreSQL reads it in the session's zone, UTC
        at = at.replace(tzinfo=UTC)
    return at.astimezone(UTC)


def _examples(rows: Condition, op: str, day: date) -> Condition:
    at = datetime.combine(day, time(0), UTC)
    return Condition(
        f"{rows.sql} AND e.created_at {op} ${len(rows.params) + 1}", [*rows.params, at], rows.per_value_plan
    )


def summary_union(parts: tuple[Condition, ...], from_summary: str, from_examples: str) -> Condition:
    """One query over every part (UNION ALL), its parameters renumbered: `from_summary` (with {} for the relation)
    selects from a summary part's rows `s`, `from_examples` the same columns from examples `e`. Planned per value if
    any part asks."""
    selects: list[str] = []
    params: list[Any] = []
    for part in parts:
        source = from_examples if part.relation == "examples" else from_summary.format(part.relation)
        selects.append(f"{source} WHERE {_renumbered(part.sql, len(params))}")
        params += part.params
    return Condition(" UNION ALL ".join(selects), params, any(p.per_value_plan for p in parts))


def _renumbered(sql: str, shift: int) -> str:
    """`sql` with each parameter $n as $(n + shift)."""
    return re.sub(r"\$(\d+)", lambda m: f"${int(m.group(1)) + shift}", sql)
