"""Jobs: kinds, statuses and the moves between them, the job record, its events, and list cursors."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Any


class JobKind(enum.Enum):
    EXPORT = "EXPORT"
    FINE_TUNE = "FINE_TUNE"
    BENCHMARK = "BENCHMARK"
    MAINTENANCE = "MAINTENANCE"


class JobStatus(enum.Enum):
    """QUEUED -> RUNNING -> (SUCCEEDED | FAILED | CANCELLING -> CANCELLED); a QUEUED job cancels at once."""

    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    CANCELLING = "CANCELLING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"

    @property
    def final(self) -> bool:
        return self in FINAL_STATUSES


FINAL_STATUSES = frozenset({JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED})
# A worker holds the job in these; its heartbeat keeps it there.
ACTIVE_STATUSES = (JobStatus.RUNNING.value, JobStatus.CANCELLING.value)


@dataclass(frozen=True, slots=True)
class Job:
    id: int
    kind: JobKind
    status: JobStatus
    progress: float
    message: str | None
    error: str | None
    input: Any
    result: Any
    attempts: int
    version: int  # the seq of the latest event: snapshots with a higher version are newer
    actor: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


@dataclass(frozen=True, slots=True)
class JobEvent:
    seq: int
    at: datetime
    status: JobStatus
    progress: float
    message: str | None


MAX_EVENTS = 1000
