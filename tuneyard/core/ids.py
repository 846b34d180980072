"""The one parser of the IDs the API hands out: row ids, whole numbers from 1 to 2^63 - 1 (PostgreSQL bigint)."""

from __future__ import annotations

from tuneyard.core.errors import ValidationError

MAX_ID = 2**63 - 1


def parse_id(value: object, what: str, where: str = "id") -> int:
    """The row id behind an ID given for a `what` (e.g. "job"); BAD_USER_INPUT naming `where` otherwise.

    A well-formed id that matches no row is the caller's business (null, or NOT_FOUND).
    """
    text = str(value).strip() if isinstance(value, str | int) and not isinstance(value, bool) else ""
    if text.isascii() and text.isdecimal() and 1 <= int(text) <= MAX_ID:
        return int(text)
    raise ValidationError(f"{where}: {value!r} is not a valid {what} id (ids are whole numbers from 1 to {MAX_ID})")
