"""The measured queries as each server spells them, and their answers brought to one comparable form.

Tuneyard reads examples through its `example_rows` view; PostGraphile is given the tables, where an example's tags
are its `exampleTagByExampleId` row (none when untagged) and its id is `rowId`. The tag condition is written so
that PostgreSQL gets the same plan from both: Tuneyard's `tags: {containsNone: [...]}` and PostGraphile's
`not: {exampleTagByExampleId: {tags: {overlaps: [...]}}}` are each one NOT EXISTS over example_tags. Tuneyard
leaves archived examples out unless asked; PostGraphile is asked to (`archived: {equalTo: false}`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple

from bench.curation import FILTER, PAGE

TUNEYARD_FILTER = FILTER
PEER_FILTER = {
    "archived": {"equalTo": False},
    "intent": {"equalTo": "publish"},
    "qualityScore": {"greaterThanOrEqualTo": 0.7},
    "not": {"exampleTagByExampleId": {"tags": {"overlaps": ["development", "test"]}}},
}
PAGE_SIZE = 50  # as in PAGE, which bench.curation measures too

TUNEYARD_PAGE = PAGE
PEER_PAGE = """query($f: ExampleFilter, $after: Cursor) {
  allExamples(filter: $f, first: 50, after: $after, orderBy: [CREATED_AT_DESC, ROW_ID_DESC]) {
    pageInfo { hasNextPage endCursor }
    nodes { rowId executionId userRequest intent platform qualityScore success exampleTagByExampleId { tags }
            createdAt updatedAt } } }"""
# Amber has no aggregates (and @graphile/pg-aggregates is for PostGraphile 4 only): the count is what both compute.
TUNEYARD_STATS = "query($f: ExampleFilter) { stats(filter: $f) { count } }"
PEER_STATS = "query($f: ExampleFilter) { allExamples(filter: $f) { totalCount } }"
TYPENAME = "{ __typename }"


class ExampleRow(NamedTuple):
    """One example as either server returned it, with names and formats made the same."""

    id: int
    execution_id: str
    user_request: str
    intent: str | None
    platform: str | None
    quality_score: float | None
    success: bool | None
    tags: tuple[str, ...]
    created_at: datetime
    updated_at: datetime


class Page(NamedTuple):
    rows: list[ExampleRow]
    has_next_page: bool
    end_cursor: str | None


def tuneyard_page(data: dict[str, Any]) -> Page:
    connection = data["examples"]
    rows = [_row(node["id"], node, node["tags"]) for node in connection["nodes"]]
    return Page(rows, connection["pageInfo"]["hasNextPage"], connection["pageInfo"]["endCursor"])


def peer_page(data: dict[str, Any]) -> Page:
    connection = data["allExamples"]
    rows = []
    for node in connection["nodes"]:
        tagged = node["exampleTagByExampleId"]  # null for an example without a row in example_tags
        rows.append(_row(node["rowId"], node, tagged["tags"] if tagged else []))
    return Page(rows, connection["pageInfo"]["hasNextPage"], connection["pageInfo"]["endCursor"])


def _row(row_id: str, node: dict[str, Any], tags: list[str]) -> ExampleRow:
    return ExampleRow(
        int(row_id), node["executionId"], node["userRequest"], node["intent"], node["platform"],
        node["qualityScore"], node["success"], tuple(tags),
        datetime.fromisoformat(node["createdAt"]), datetime.fromisoformat(node["updatedAt"]),
    )  # fmt: skip


def first_difference(tuneyard: Sequence[ExampleRow], peer: Sequence[ExampleRow]) -> str | None:
    """Where the two servers' rows part (ids and their order first, then field by field); None when they agree.

    No rows at all is a difference too: a check that compares two empty lists proves nothing.
    """
    if not tuneyard and not peer:
        return "neither server returned any rows"
    ids, peer_ids = [r.id for r in tuneyard], [r.id for r in peer]
    if ids != peer_ids:
        at = 0
        while at < min(len(ids), len(peer_ids)) and ids[at] == peer_ids[at]:
            at += 1
        return (
            f"ids differ from row {at + 1}: Tuneyard {len(ids)} rows {ids[at : at + 5]}..., "
            f"PostGraphile {len(peer_ids)} rows {peer_ids[at : at + 5]}..."
        )
    for ours, theirs in zip(tuneyard, peer, strict=True):
        for field in ExampleRow._fields:
            if (value := getattr(ours, field)) != (other := getattr(theirs, field)):
                return f"example {ours.id}: {field} is {value!r} from Tuneyard, {other!r} from PostGraphile"
    return None
