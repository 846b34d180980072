"""Resolvers for fine-tunes: estimate (READER), start (ADMIN)."""

from __future__ import annotations

import strawberry

from tuneyard.core.audit import audited
from tuneyard.core.graphql.context import Info
from tuneyard.core.principal import Role
from tuneyard.finetunes import service
from tuneyard.finetunes.types import FineTuneEstimate, FineTuneInput, as_request, estimate_to_schema
from tuneyard.jobs.types import Job
from tuneyard.jobs.types import to_schema as job_to_schema


async def fine_tune_estimate(info: Info, input: FineTuneInput) -> FineTuneEstimate:
    info.context.require(Role.READER)
    context = info.context
    return estimate_to_schema(await service.estimate_fine_tune(context.pool, context.settings, as_request(input)))


@audited
async def start_fine_tune(info: Info, input: FineTuneInput) -> Job:
    principal = info.context.require(Role.ADMIN)
    context = info.context
    job = await service.start_fine_tune(context.pool, context.settings, as_request(input), principal.name)
    return job_to_schema(job)


@strawberry.type
class Query:
    fine_tune_estimate: FineTuneEstimate = strawberry.field(
        resolver=fine_tune_estimate,
        description="Examples and tokens per split, billable tokens, cost at dated prices, a rough duration, "
        "warnings and blockers, before anything starts (counting a version's tokens the first time takes a while).",
    )


@strawberry.type
class Mutation:
    start_fine_tune: Job = strawberry.field(
        resolver=start_fine_tune,
        description="Start a FINE_TUNE job (ADMIN), refused with the estimate's blockers. Follow it with "
        "jobProgress; on success its result names the registered model (modelId).",
    )
