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
U = TypeVar("U")


@dataclass(frozen=True, slots=True)
class Count:
    """How many items match: exactly, or (exact false) an estimate, where counting them all would take too long."""

    value: int
    exact: bool = True


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """The items shown, whether more follow, and how to make the cursor of the item at an index.

    Cursors are made only when asked for: a page read for its nodes and pageInfo needs just the last one.
    """

    items: list[T]
    has_next_page: bool
    cursor_at: Callable[[int], str]

    @classmethod
    def of(cls, fetched: list[T], first: int, cursor: Callable[[T], str]) -> Page[T]:
        """The page from `first + 1` fetched rows: the extra row only says that another page follows."""
        shown = fetched[:first]
        return cls(shown, len(fetched) > first, lambda index: cursor(shown[index]))

    @property
    def cursors(self) -> list[str]:
        return [self.cursor_at(index) for index in range(len(self.items))]

    @property
    def end_cursor(self) -> str | None:
        return self.cursor_at(len(self.items) - 1) if self.items else None

    def map(self, convert: Callable[[T], U]) -> Page[U]:
        """The same page with each item converted (its cursors stay those of the items it was made from)."""
        return Page([convert(item) for item in self.items], self.has_next_page, self.cursor_at)


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
