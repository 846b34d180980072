"""checkExamples: start the MAINTENANCE job that checks (and optionally repairs) every example's tags."""

from __future__ import annotations

import strawberry

from tuneyard.core.audit import audited
from tuneyard.core.graphql.context import Info
from tuneyard.core.principal import Role
from tuneyard.jobs.types import Job, to_schema
from tuneyard.maintenance import service


@audited
async def check_examples(info: Info, repair: bool = False, chunk_size: int = 1000, pause_ms: int = 0) -> Job:
    principal = info.context.require(Role.CURATOR)
    started = await service.start_check(info.context.pool, repair, chunk_size, pause_ms, principal.name)
    return to_schema(started)


@strawberry.type
class Mutation:
    check_examples: Job = strawberry.field(
        resolver=check_examples,
        description="Start a MAINTENANCE job that checks every example's tags are a sorted set of non-blank labels, "
        "chunkSize examples at a time with pauseMs between chunks; with repair, fixes them (CURATOR). It also reports "
        "stored content that breaks the rules of recordExamples (JSON too deep, of the wrong shape, with integers "
        "outside +-2^53; createdAt outside 1900-9999), which it never changes.",
    )
