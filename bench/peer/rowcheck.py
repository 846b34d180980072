"""Both servers must answer every measured query alike before anything is timed: same rows, same order, same values.

The walk to the deep page compares every page on the way, and yields the two cursors of row 1,000 (each server's
own) from which the deep page is measured.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bench.peer import queries
from bench.peer.client import Connection, Endpoint


class RowCheckFailed(Exception):
    """The servers disagree on a query that is to be measured (timing them would compare different work), or the
    data cannot show that they agree (too few matching rows)."""


@dataclass(frozen=True)
class Measured:
    """One measured query: its label and the payload each server is sent for it."""

    label: str
    tuneyard: dict[str, Any]
    peer: dict[str, Any]


@dataclass(frozen=True)
class Checked:
    """What the check compared: the queries to measure, and a line saying what agreed."""

    queries: list[Measured]
    summary: str


async def check_rows(tuneyard: Endpoint, peer: Endpoint, deep_row: int = 1000) -> Checked:
    """The measured queries, once both servers were seen to answer each of them alike; RowCheckFailed otherwise."""
    if deep_row <= 0 or deep_row % queries.PAGE_SIZE:
        raise ValueError(f"the deep page starts after a whole number of {queries.PAGE_SIZE}-row pages, not {deep_row}")
    async with Connection(tuneyard) as ours, Connection(peer) as theirs:
        pages = deep_row // queries.PAGE_SIZE + 1
        ours_after = theirs_after = None
        measured_pages = []
        for number in range(pages):
            ours_payload = _payload(queries.TUNEYARD_PAGE, queries.TUNEYARD_FILTER, ours_after)
            theirs_payload = _payload(queries.PEER_PAGE, queries.PEER_FILTER, theirs_after)
            ours_page = queries.tuneyard_page(await ours.data(ours_payload))
            theirs_page = queries.peer_page(await theirs.data(theirs_payload))
            first_row = number * queries.PAGE_SIZE + 1
            where = f"page {number + 1} (rows {first_row:,}..{first_row + queries.PAGE_SIZE - 1:,})"
            _same(where, queries.first_difference(ours_page.rows, theirs_page.rows))
            _same(f"{where} hasNextPage", _differ(ours_page.has_next_page, theirs_page.has_next_page))
            if number in (0, pages - 1):
                label = "first page" if number == 0 else f"page after row {deep_row:,}"
                measured_pages.append(Measured(label, ours_payload, theirs_payload))
            if number < pages - 1 and not ours_page.has_next_page:
                raise RowCheckFailed(
                    f"only {(number + 1) * queries.PAGE_SIZE:,} rows or fewer match the filter: the page after row "
                    f"{deep_row:,} needs more (a larger --rows)"
                )
            ours_after, theirs_after = ours_page.end_cursor, theirs_page.end_cursor

        stats = Measured(
            "stats count",
            {"query": queries.TUNEYARD_STATS, "variables": {"f": queries.TUNEYARD_FILTER}},
            {"query": queries.PEER_STATS, "variables": {"f": queries.PEER_FILTER}},
        )
        count = (await ours.data(stats.tuneyard))["stats"]["count"]
        _same("stats count", _differ(count, (await theirs.data(stats.peer))["allExamples"]["totalCount"]))
        if not count:
            raise RowCheckFailed("no example matches the filter: the stats check would compare nothing")

        typename = Measured("`{ __typename }`", {"query": queries.TYPENAME}, {"query": queries.TYPENAME})
        _same("__typename", _differ(await ours.data(typename.tuneyard), await theirs.data(typename.peer)))

    summary = (
        f"same rows from both servers: {pages} pages of {queries.PAGE_SIZE} up to the one after row {deep_row:,}, "
        f"stats count {count:,}, __typename"
    )
    return Checked([*measured_pages, stats, typename], summary)


def _payload(query: str, filter_: dict[str, Any], after: str | None) -> dict[str, Any]:
    variables = {"f": filter_} if after is None else {"f": filter_, "after": after}
    return {"query": query, "variables": variables}


def _differ(ours: object, theirs: object) -> str | None:
    return None if ours == theirs else f"{ours!r} from Tuneyard, {theirs!r} from PostGraphile"


def _same(where: str, difference: str | None) -> None:
    if difference is not None:
        raise RowCheckFailed(f"Tuneyard and PostGraphile disagree on {where}: {difference}")
