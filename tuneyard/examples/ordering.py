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


class ExampleOrder(enum.Enum):
    CREATED_AT_DESC = "CREATED_AT_DESC"
    CREATED_AT_ASC = "CREATED_AT_ASC"
    QUALITY_SCORE_DESC = "QUALITY_SCORE_DESC"
    QUALITY_SCORE_ASC = "QUALITY_SCORE_ASC"

    @property
    def by_created_at(self) -> bool:
        return self.name.startswith("CREATED_AT")

    @property
    def descending(self) -> bool:
        return self.name.endswith("_DESC")

    def key_of(self, created_at: datetime | str, quality_score: float | None) -> Any:
        """The sort key of a row; a missing quality score sorts as -1 so keysets stay plain row comparisons."""
        if self.by_created_at:
            return created_at
        return -1.0 if quality_score is None else quality_score


@dataclass(frozen=True, slots=True)
class Position:
    key: Any
    id: int


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
        if order.by_created_at:
            key: Any = datetime.fromisoformat(raw)
        elif isinstance(raw, int | float) and not isinstance(raw, bool):
            key = float(raw)
        else:
            raise ValueError("key")
    except (ValueError, TypeError) as error:
        raise ValidationError("after: not a cursor this server issued") from error
    return Position(key, row_id)
