"""Opaque keyset cursors: they round-trip, and foreign or forged ones are refused clearly."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tuneyard.core.errors import ValidationError
from tuneyard.examples.ordering import ExampleOrder, decode_cursor, encode_cursor


def test_round_trip_for_every_order() -> None:
    moment = datetime(2025, 11, 3, 4, 5, 6, 789, tzinfo=UTC)
    for order in ExampleOrder:
        key = order.key_of(moment, 0.25)
        position = decode_cursor(order, encode_cursor(order, key, 42))
        assert (position.key, position.id) == (key, 42)


def test_cursor_from_another_order_is_refused() -> None:
    cursor = encode_cursor(ExampleOrder.QUALITY_SCORE_DESC, 0.5, 1)
    with pytest.raises(ValidationError, match="belongs to ordering QUALITY_SCORE_DESC, not CREATED_AT_DESC"):
        decode_cursor(ExampleOrder.CREATED_AT_DESC, cursor)


@pytest.mark.parametrize("forged", ["", "not-base64!", "WzEsMiwzXQ", "eyJhIjoxfQ"])
def test_forged_cursor_is_refused(forged: str) -> None:
    with pytest.raises(ValidationError, match="not a cursor this server issued"):
        decode_cursor(ExampleOrder.CREATED_AT_DESC, forged)
