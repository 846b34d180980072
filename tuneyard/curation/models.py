"""Tag operations, bulk runs and their CURATION jobs, stats, purges, and the bounds of curation requests."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tuneyard.jobs.models import Job, JobKind, JobModel, JobType

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
    run_id: int | None = None  # the run (a CURATION job) applying it; None: applied inline
    job_id: int | None = None  # that run's job
    complete: bool = True  # False until its run's last chunk committed, and for good if its job stopped before
    undo_run_id: int | None = None  # the run undoing it (or that last tried to)
    undo_job_id: int | None = None


@dataclass(frozen=True, slots=True)
class Archived:
    """What archiveExamples or restoreExamples did: the examples changed, or the job that changes them (0 so far)."""

    affected_count: int
    job: Job | None = None


class Action(enum.Enum):
    """What a bulk run does to the examples it walks."""

    TAG = "TAG"
    UNDO = "UNDO"
    ARCHIVE = "ARCHIVE"
    RESTORE = "RESTORE"


@dataclass(frozen=True, slots=True)
class Run:
    """A bulk operation as a walk over example ids first_id < id <= last_id, done up to done_through."""

    id: int
    action: Action
    filter: Any  # ARCHIVE and RESTORE: the filter document
    job_id: int | None
    first_id: int
    last_id: int
    done_through: int
    changed: int
    chunks: int
    finished: bool

    @property
    def progress(self) -> float:
        """The share of the ids walked: work done over the work there is (the ids, not yet the matches, are known)."""
        span = self.last_id - self.first_id
        return 1.0 if span <= 0 else min((self.done_through - self.first_id) / span, 1.0)


@dataclass(frozen=True, slots=True)
class Step:
    """A run after one chunk; `stopped` says why it cannot go on (its operation was undone meanwhile)."""

    run: Run
    stopped: str | None = None


@dataclass(frozen=True, slots=True)
class OperationSpec:
    """What a TAG run applies: its operation's tags and filter document."""

    added: list[str]
    removed: list[str]
    filter: Any


class BulkInput(JobModel):
    run_id: int
    action: str  # Action's value, for people reading the job
    operation_id: int | None = None  # TAG and UNDO: the tag operation


class BulkResult(JobModel):
    """What a bulk job has done so far; `complete` once it walked every id."""

    action: str
    operation_id: int | None = None
    affected_count: int = 0  # examples whose tags (or archived flag) it changed
    chunks: int = 0
    complete: bool = False


# One kind for every bulk edit of examples: clients follow them with jobs(kind: [CURATION]); the actor and
# `input.action` say which edit it is. One queue, so that `tuneyard worker --queues curation` can take them.
TAG_JOB = JobType(JobKind.CURATION, actor="curation.tag", queue="curation", input=BulkInput, result=BulkResult)
UNDO_JOB = JobType(JobKind.CURATION, actor="curation.undo", queue="curation", input=BulkInput, result=BulkResult)
ARCHIVE_JOB = JobType(JobKind.CURATION, actor="curation.archive", queue="curation", input=BulkInput, result=BulkResult)


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
