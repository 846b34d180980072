"""Tag operations, stats, purges and the bounds of curation requests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

MAX_HISTOGRAM_BUCKETS = 100
MAX_PURGE = 100_000  # examples one purgeExamples call may delete: a bounded transaction, locks and undo-log scan


@dataclass(frozen=True, slots=True)
class TagOperation:
    id: int
    added: list[str]
    removed: list[str]
    affected_count: int
    note: str | None
    created_at: datetime
    undone_at: datetime | None
    purged_count: int = 0  # examples it changed that were purged since: it can no longer be undone exactly


@dataclass(frozen=True, slots=True)
class Summary:
    """The aggregates of the examples matching a filter, from one scan."""

    count: int
    avg_quality_score: float | None
    success_rate: float | None
    earliest: datetime | None
    latest: datetime | None


@dataclass(frozen=True, slots=True)
class Aggregate:
    """A Summary of one group: grouping "all" (key None), "intent", "platform", "model" or "bucket" (1..n)."""

    grouping: str
    key: Any
    summary: Summary


@dataclass(frozen=True, slots=True)
class Bucket:
    lower: float
    upper: float
    count: int


@dataclass(frozen=True, slots=True)
class PurgeCounts:
    """The archived examples a purge filter matches: those it deletes (or would), and those kept because a dataset
    version holds them."""

    deletable: int
    kept_in_datasets: int


@dataclass(frozen=True, slots=True)
class DryRun:
    """What the last dry run of a purge filter reported, and when."""

    deletable: int
    created_at: datetime
