"""GraphQL types for jobs, their events and pages of them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

import strawberry
from strawberry.scalars import JSON

from tuneyard.core.graphql.connection import PageInfo
from tuneyard.core.graphql.context import Info
from tuneyard.jobs import service as service
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


@strawberry.type
class JobEdge:
    cursor: str
    node: Job


@strawberry.type
class JobConnection:
    nodes: list[Job]
    cursors: strawberry.Private[list[str]]
    page_info: PageInfo
    count_total: strawberry.Private[Callable[[], Awaitable[int]]]

    @strawberry.field
    def edges(self) -> list[JobEdge]:
        return [JobEdge(cursor=c, node=n) for c, n in zip(self.cursors, self.nodes, strict=True)]

    @strawberry.field(description="Jobs matching the filters; counted only when asked for.")
    async def total_count(self) -> int:
        return await self.count_total()
