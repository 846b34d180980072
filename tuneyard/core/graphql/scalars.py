"""DateTime and Date, read with the standard library's ISO 8601 parsers (several times faster than dateutil's)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import strawberry

# Times Tuneyard stores and filters on; outside them PostgreSQL, Python and JSON clients disagree (year 1 with a
# zone offset, year 10000 once an offset is applied).
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)


def _parse(value: object) -> datetime:
    if not isinstance(value, str):
        raise ValueError(f"DateTime must be an ISO 8601 string, got {value!r}")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"DateTime must be an ISO 8601 string such as 2025-12-01T09:30:00Z, got {value!r}") from None
    try:
        in_range = EARLIEST <= (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)) <= LATEST
    except OverflowError:  # an offset that takes it past year 9999 or before year 1
        in_range = False
    if not in_range:
        raise ValueError(f"DateTime must be between 1900-01-01T00:00:00Z and 9999-12-31T23:59:59Z, got {value!r}")
    return parsed


def _serialize(value: datetime | str) -> str:
    # Text is a time PostgreSQL already wrote in ISO 8601 (tuneyard.examples.repository reads times that way).
    return value if type(value) is str else value.isoformat()  # type: ignore[union-attr]


DateTime = strawberry.scalar(
    name="DateTime",
    description="Date with time (ISO 8601); a time without zone is read as UTC.",
    serialize=_serialize,
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
