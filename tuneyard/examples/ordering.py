"""Orderings and opaque keyset cursors over (sort key, id)."""

from __future__ import annotations

import base64
import binascii
import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from tuneyard.core.errors import ValidationError

MAX_PAGE = 500


class ExampleOrder(enum.Enum):
    CREATED_AT_DESC = "CREATED_AT_DESC"
    CREATED_AT_ASC = "CREATED_AT_ASC"
    QUALITY_SCORE_DESC = "QUALITY_SCORE_DESC"
    QUALITY_SCORE_ASC = "QUALITY_SCORE_ASC"

    @property
    def key_sql(self) -> str:
        """The sort key; a missing quality score sorts as -1 so keysets stay plain row comparisons."""
        return "e.created_at" if self.name.startswith("CREATED_AT") else "coalesce(e.quality_score, -1)"

    @property
    def descending(self) -> bool:
        return self.name.endswith("_DESC")

    def order_by_sql(self) -> str:
        direction = "DESC" if self.descending else "ASC"
        return f"{self.key_sql} {direction}, e.id {direction}"

    def after_sql(self, first_param: int) -> str:
        """Rows strictly after the cursor's (key, id), as a condition with two parameters."""
        op = "<" if self.descending else ">"
        return f"({self.key_sql}, e.id) {op} (${first_param}, ${first_param + 1})"

    def key_of(self, created_at: datetime, quality_score: float | None) -> Any:
        if self.name.startswith("CREATED_AT"):
            return created_at
        return -1.0 if quality_score is None else quality_score


@dataclass(frozen=True, slots=True)
class Position:
    key: Any
    id: int


def check_page_size(first: int) -> None:
    if not 0 <= first <= MAX_PAGE:
        raise ValidationError(f"first: must be between 0 and {MAX_PAGE}, got {first}")


def encode_cursor(order: ExampleOrder, key: Any, row_id: int) -> str:
    raw = key.isoformat() if isinstance(key, datetime) else key
    return base64.urlsafe_b64encode(orjson.dumps([order.value, raw, row_id])).decode().rstrip("=")


def decode_cursor(order: ExampleOrder, cursor: str) -> Position:
    """The position a cursor points at; it must come from a page in the same ordering."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        name, raw, row_id = orjson.loads(base64.urlsafe_b64decode(padded))
        if not isinstance(row_id, int) or isinstance(row_id, bool) or name not in ExampleOrder.__members__:
            raise ValueError("shape")
    except (ValueError, TypeError, binascii.Error, orjson.JSONDecodeError) as error:
        raise ValidationError("after: not a cursor this server issued") from error
    if name != order.value:
        raise ValidationError(f"after: this cursor belongs to ordering {name}, not {order.value}")
    try:
        if order.name.startswith("CREATED_AT"):
            key: Any = datetime.fromisoformat(raw)
        elif isinstance(raw, int | float) and not isinstance(raw, bool):
            key = float(raw)
        else:
            raise ValueError("key")
    except (ValueError, TypeError) as error:
        raise ValidationError("after: not a cursor this server issued") from error
    return Position(key, row_id)


def encode_id_cursor(kind: str, row_id: int) -> str:
    """An opaque cursor for lists walked by id alone (jobs, dataset members); `kind` keeps them apart."""
    return base64.urlsafe_b64encode(orjson.dumps([kind, row_id])).decode().rstrip("=")


def decode_id_cursor(kind: str, cursor: str) -> int:
    """The id an encode_id_cursor(kind, ...) cursor points at; anything else is a clear error."""
    try:
        found, row_id = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if found != kind or not isinstance(row_id, int) or isinstance(row_id, bool):
            raise ValueError("shape")
    except (ValueError, TypeError, binascii.Error, orjson.JSONDecodeError) as error:
        raise ValidationError(f"after: not a cursor this server issued for {kind}s") from error
    return row_id
