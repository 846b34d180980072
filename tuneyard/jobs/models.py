"""Jobs: kinds, statuses and the moves between them, the job record, its events, and job types with typed I/O."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class JobKind(enum.Enum):
    EXPORT = "EXPORT"
    FINE_TUNE = "FINE_TUNE"
    BENCHMARK = "BENCHMARK"
    MAINTENANCE = "MAINTENANCE"
    IMPORT = "IMPORT"
    CURATION = "CURATION"  # tagExamples, undoTagOperation, archiveExamples, restoreExamples past the bulk threshold


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
# A worker holds the job in these (or, while `resume_at` is set, its delayed message will bring it back).
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
    queue: str
    checkpoint: Any  # what a run saved to resume from; None until one does
    resume_at: datetime | None  # set while the job waits for its delayed message (no worker holds it)
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


class JobModel(BaseModel):
    """A job's input, result or checkpoint: snake_case in Python, camelCase in its stored (and shown) JSON."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True)

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)


InputT = TypeVar("InputT", bound=JobModel)
ResultT = TypeVar("ResultT", bound=JobModel)


@dataclass(frozen=True, eq=False)
class JobType(Generic[InputT, ResultT]):
    """A job kind as code declares it: what clients see it as, who runs it, on which queue, with what I/O.

    Several types may share a kind (the enum clients filter on); the actor names the type and is unique.
    """

    kind: JobKind
    actor: str  # the Dramatiq actor, "area.verb"
    queue: str  # its Dramatiq queue: `tuneyard worker --queues` picks the kinds a host takes
    input: type[InputT]
    result: type[ResultT]
