"""DateTime and Date, read with the standard library's ISO 8601 parsers (several times faster than dateutil's)."""

from __future__ import annotations

from datetime import date, datetime

import strawberry


def _parse(value: object) -> datetime:
    if not isinstance(value, str):
        raise ValueError(f"DateTime must be an ISO 8601 string, got {value!r}")
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"DateTime must be an ISO 8601 string such as 2025-12-01T09:30:00Z, got {value!r}") from None


DateTime = strawberry.scalar(
    name="DateTime",
    description="Date with time (ISO 8601); a time without zone is read as UTC.",
    serialize=datetime.isoformat,
    parse_value=_parse,
)


def _parse_date(value: object) -> date:
    if not isinstance(value, str):
        raise ValueError(f"Date must be an ISO 8601 date string, got {value!r}")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"Date must be an ISO 8601 date such as 2027-01-06, got {value!r}") from None


Date = strawberry.scalar(
    name="Date", description="A calendar day (ISO 8601, e.g. 2027-01-06).", serialize=date.isoformat,
    parse_value=_parse_date,
)  # fmt: skip
