"""Page bounds, Page.of, the id cursor codec and the one ID parser."""

from __future__ import annotations

import pytest

from tuneyard.core.errors import ValidationError
from tuneyard.core.ids import MAX_ID, parse_id
from tuneyard.core.page import Page, check_page_size, decode_id_cursor, encode_id_cursor


def test_page_size_bounds() -> None:
    check_page_size(500)
    with pytest.raises(ValidationError, match="between 0 and 500, got 501"):
        check_page_size(501)


def test_id_cursors_round_trip_and_keep_their_kind() -> None:
    assert decode_id_cursor("job", encode_id_cursor("job", 77)) == 77
    with pytest.raises(ValidationError, match="not a cursor this server issued for jobs"):
        decode_id_cursor("job", encode_id_cursor("dataset member", 77))
    with pytest.raises(ValidationError, match="for dataset members"):
        decode_id_cursor("dataset member", "garbage")


def test_page_of_keeps_first_rows_and_says_whether_more_follow() -> None:
    made: list[int] = []

    def cursor(item: int) -> str:
        made.append(item)
        return str(item)

    page = Page.of([1, 2, 3], 2, cursor)
    assert (page.items, page.end_cursor, page.has_next_page) == ([1, 2], "2", True)
    assert made == [2]  # only the cursor asked for is made
    assert page.cursors == ["1", "2"]
    assert page.map(lambda n: n * 10).items == [10, 20] and page.map(str).cursors == ["1", "2"]
    last = Page.of([1, 2], 2, str)
    assert (last.items, last.has_next_page) == ([1, 2], False)
    empty = Page.of([1], 0, str)
    assert (empty.items, empty.cursors, empty.end_cursor, empty.has_next_page) == ([], [], None, True)


@pytest.mark.parametrize("good", ["1", " 42 ", 42, str(MAX_ID)])
def test_ids_are_whole_numbers_within_bigint(good: object) -> None:
    assert parse_id(good, "job") == int(str(good))


@pytest.mark.parametrize("bad", ["", "abc", "0", "-3", "1.5", "1e3", str(MAX_ID + 1), "٣", True, None, 2.0])
def test_anything_else_is_a_clear_error_naming_the_argument(bad: object) -> None:
    with pytest.raises(
        ValidationError, match=rf"^input.base: {__import__('re').escape(repr(bad))} is not a valid dataset id"
    ):
        parse_id(bad, "dataset", "input.base")
