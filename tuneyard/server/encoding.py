"""JSON responses encoded in pieces, with the event loop free between pieces, and held to a size limit.

orjson keeps the GIL while it encodes, so a thread would not free the loop; instead the response is walked
down to its lists, whose items are encoded in slices of about SLICE_BYTES, and the loop runs other requests
whenever YIELD_BYTES more have been encoded (and the rows encoded so far have been freed). A response past the
limit is abandoned as soon as it gets there.
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson

from tuneyard.core.graphql.execution import Rows

SLICE_BYTES = 64 * 1024
YIELD_BYTES = 256 * 1024
FEW_ROWS = 100  # a response with at most this many rows near its top is encoded in one call
MAX_SLICE = 4096  # items encoded at once, however small
SPLIT_DEPTH = 8  # deeper values are encoded whole: rows of rows of rows, under the row limit anyway

TOO_LARGE = "RESPONSE_TOO_LARGE"


class ResponseTooLarge(Exception):
    """The encoded response would be over Settings.max_response_bytes."""

    def __init__(self, limit: int) -> None:
        super().__init__(
            f"the response is over the limit of {limit:,} bytes: ask for fewer rows (first/last) or fewer fields"
        )
        self.message = str(self)


class _Pieces:
    def __init__(self, limit: int) -> None:
        self.parts: list[bytes] = []
        self.size = 0
        self.pending = 0
        self.limit = limit

    async def add(self, piece: bytes) -> None:
        self.parts.append(piece)
        self.size += len(piece)
        if self.size > self.limit:
            raise ResponseTooLarge(self.limit)
        self.pending += len(piece)
        if self.pending >= YIELD_BYTES:
            self.pending = 0
            await asyncio.sleep(0)

    async def value(self, value: Any, depth: int) -> None:
        if depth >= SPLIT_DEPTH:
            await self.add(orjson.dumps(value))
        elif isinstance(value, dict) and value:
            separator = b"{"
            for key, item in value.items():
                await self.add(separator + orjson.dumps(key) + b":")
                await self.value(item, depth + 1)
                separator = b","
            await self.add(b"}")
        elif isinstance(value, list) and len(value) > 1:
            await self.list(value, depth)
        else:
            await self.add(orjson.dumps(value))

    async def list(self, items: list[Any], depth: int) -> None:
        # Slices sized from the items encoded so far: small items go thousands at a time, big ones one by one
        # (one that holds lists of its own is walked into).
        await self.add(b"[")
        start, step, encoded = 0, 1, 0
        while start < len(items):
            if step == 1 and isinstance(items[start], dict | list):
                before = self.size
                await self.add(b"," if start else b"")
                await self.value(items[start], depth + 1)
                piece_size = self.size - before
            else:
                piece = orjson.dumps(items[start : start + step])[1:-1]
                await self.add((b"," if start else b"") + piece)
                piece_size = len(piece)
            if isinstance(items, Rows):  # rows no one else holds: freed now, between yields, not all at once later
                for done in range(start, min(start + step, len(items))):
                    items[done] = None  # type: ignore[call-overload]
            start += step
            encoded += piece_size
            step = max(1, min(MAX_SLICE, SLICE_BYTES * start // max(encoded, 1)))
        await self.add(b"]")


def _rows_near_top(value: Any, depth: int = 0) -> int:
    """Items in the lists of the response's first levels (data, its fields, their connections): a cheap hint of
    its size."""
    if isinstance(value, list):
        return len(value)
    if isinstance(value, dict) and depth < 3:
        return sum(_rows_near_top(item, depth + 1) for item in value.values())
    return 0


async def encode(response: dict[str, Any], limit: int) -> bytes:
    """The response as JSON bytes; ResponseTooLarge as soon as it passes `limit` bytes.

    A big response is consumed: the rows lists built by the executor (tuneyard.core.graphql.execution.Rows; never
    a value someone else holds) are emptied as they are encoded, so that their objects are freed piece by
    piece: freeing 10,000 rows at once would hold the loop for 100 ms or more.
    """
    if _rows_near_top(response.get("data")) <= FEW_ROWS:  # encoded at once in well under a millisecond, usually
        body = orjson.dumps(response)
        if len(body) > limit:
            raise ResponseTooLarge(limit)
        return body
    pieces = _Pieces(limit)
    await pieces.value(response, 0)
    return b"".join(pieces.parts)


def too_large_body(error: ResponseTooLarge) -> dict[str, Any]:
    """What is answered instead of a response over the limit: no data, and the error naming the limit."""
    return {"data": None, "errors": [{"message": error.message, "extensions": {"code": TOO_LARGE}}]}
