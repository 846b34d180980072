"""GraphQL types for jobs and their events (a page of jobs is a Connection[Job])."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.scalars import JSON

from tuneyard.core.graphql.context import Info
from tuneyard.jobs import service as service
from tuneyard.jobs.models import Job as DomainJob
from tuneyard.jobs.models import JobKind, JobStatus

# The domain enums are the GraphQL enums (strawberry.enum registers a class in place).
strawberry.enum(JobKind, name="JobKind")
strawberry.enum(JobStatus, name="JobStatus")


@strawberry.type
class JobEvent:
    seq: int
    at: datetime
    status: JobStatus
    progress: float
    message: str | None


@strawberry.type(description="A background job. Its row is the truth; subscriptions only tell you when it changed.")
class Job:
    id: strawberry.ID
    kind: JobKind
    status: JobStatus
    progress: float = strawberry.field(description="0 to 1.")
    message: str | None
    error: str | None
    input: JSON
    result: JSON | None
    attempts: int = strawberry.field(
        description="Times a worker has taken the job (a retry after a lost worker adds one)."
    )
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None

    @strawberry.field(
        description="The job's latest events (at most 1000), oldest first; seq increases by one per change."
    )
    async def events(self, info: Info, last: int | None = 50) -> list[JobEvent]:
        found = await service.events(info.context.pool, int(self.id), 50 if last is None else last)
        return [JobEvent(seq=e.seq, at=e.at, status=e.status, progress=e.progress, message=e.message) for e in found]


def to_schema(job: DomainJob) -> Job:
    """The GraphQL view of a job (every domain that returns a Job uses this)."""
    return Job(
        id=strawberry.ID(str(job.id)), kind=job.kind, status=job.status, progress=job.progress, message=job.message,
        error=job.error, input=job.input, result=job.result, attempts=job.attempts, created_at=job.created_at,
        started_at=job.started_at, finished_at=job.finished_at,
    )  # fmt: skip
