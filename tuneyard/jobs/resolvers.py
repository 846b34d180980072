"""Resolvers for jobs: reading, cancelling, and the two subscriptions.

Subscriptions hand each job change to `sent_as_rendered` first: over WebSocket, another subscriber with the
same query may already have rendered it (see tuneyard/core/graphql/fanout.py).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator

import strawberry
from graphql import GraphQLError

from tuneyard.core.audit import audited
from tuneyard.core.errors import NotFoundError, TuneyardError, UnavailableError
from tuneyard.core.graphql.connection import Connection
from tuneyard.core.graphql.context import Info
from tuneyard.core.graphql.fanout import sent_as_rendered
from tuneyard.core.ids import parse_id
from tuneyard.core.principal import Role
from tuneyard.jobs import service as service
from tuneyard.jobs.models import JobKind, JobStatus
from tuneyard.jobs.progress import ProgressHub
from tuneyard.jobs.types import Job, to_schema


def _hub(info: Info) -> ProgressHub:
    hub = info.context.progress_hub
    if not isinstance(hub, ProgressHub):
        raise UnavailableError("live job updates are not available on this server")
    return hub


async def job(info: Info, id: strawberry.ID) -> Job | None:
    info.context.require(Role.READER)
    found = await service.get(info.context.pool, id)
    return None if found is None else to_schema(found)


async def jobs(
    info: Info,
    status: list[JobStatus] | None = None,
    kind: list[JobKind] | None = None,
    first: int | None = 50,
    after: str | None = None,
) -> Connection[Job]:
    info.context.require(Role.READER)
    pool, statuses, kinds = info.context.pool, status or [], kind or []
    found = await service.page(pool, statuses, kinds, 50 if first is None else first, after)
    return Connection[Job].of(found.map(to_schema), lambda: service.count(pool, statuses, kinds))


@audited
async def cancel_job(info: Info, id: strawberry.ID) -> Job:
    info.context.require(Role.CURATOR)
    return to_schema(await service.cancel(info.context.pool, id))


def _coded(error: TuneyardError) -> GraphQLError:
    # Errors raised inside a subscription's stream do not pass through the ErrorCodes extension.
    return GraphQLError(error.message, extensions={"code": error.code})


async def job_progress(info: Info, id: strawberry.ID) -> AsyncGenerator[Job, None]:
    try:
        info.context.require(Role.READER)
        job_id = parse_id(id, "job")
        async with _hub(info).watch(job_id=job_id) as watch:
            current = await service.get(info.context.pool, job_id)
            if current is None:
                raise NotFoundError(f"no job with id {id!r}")
            yield to_schema(current)
            seen = current.version
            while not current.status.final:
                change = await watch.next()
                if change.job.version > seen:
                    current, seen = change.job, change.job.version
                    if not await sent_as_rendered(change):
                        yield to_schema(current)
    except TuneyardError as error:
        raise _coded(error) from error


async def job_updates(info: Info, kind: list[JobKind] | None = None) -> AsyncGenerator[Job, None]:
    seen: dict[int, int] = {}
    try:
        info.context.require(Role.READER)
        async with _hub(info).watch(kinds=frozenset(kind) if kind else None) as watch:
            while True:
                change = await watch.next()
                current = change.job
                if current.version > seen.get(current.id, 0):
                    seen[current.id] = current.version
                    if current.status.final:
                        seen.pop(current.id)  # a final job never changes again: keep the map small
                    if not await sent_as_rendered(change):
                        yield to_schema(current)
    except TuneyardError as error:
        raise _coded(error) from error


@strawberry.type
class Query:
    job: Job | None = strawberry.field(resolver=job)
    jobs: Connection[Job] = strawberry.field(
        resolver=jobs, description="Jobs newest first, optionally only some statuses and kinds."
    )


@strawberry.type
class Mutation:
    cancel_job: Job = strawberry.field(
        resolver=cancel_job,
        description="Cancel a queued job at once, or ask a running one to stop at its next checkpoint (CURATOR).",
    )


@strawberry.type
class Subscription:
    job_progress: AsyncGenerator[Job, None] = strawberry.subscription(
        resolver=job_progress,
        description="The job as it is now, then after each change; completes after a final status.",
    )
    job_updates: AsyncGenerator[Job, None] = strawberry.subscription(
        resolver=job_updates, description="Every change of every job (of the given kinds)."
    )
