"""Page[T]: one keyset page of any list, its bounds, and the opaque cursor of lists walked by id alone."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

import orjson

from tuneyard.core.errors import ValidationError

MAX_PAGE = 500

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T]
    cursors: list[str]
    has_next_page: bool

    @classmethod
    def of(cls, fetched: list[T], first: int, cursor: Callable[[T], str]) -> Page[T]:
        """The page from `first + 1` fetched rows: the extra row only says that another page follows."""
        shown = fetched[:first]
        return cls(shown, [cursor(item) for item in shown], len(fetched) > first)


def check_page_size(first: int) -> None:
    if not 0 <= first <= MAX_PAGE:
        raise ValidationError(f"first: must be between 0 and {MAX_PAGE}, got {first}")


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
