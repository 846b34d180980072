"""The GraphQL side of the audit log: AuditEntry and the auditLog resolver (ADMIN)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, cast

import strawberry
from strawberry.scalars import JSON

from tuneyard.auth import audit
from tuneyard.auth import models as domain
from tuneyard.core.graphql.connection import Connection
from tuneyard.core.graphql.context import Info
from tuneyard.core.page import MAX_PAGE
from tuneyard.core.principal import Role


@strawberry.type(description="One mutation, written in the transaction of its change: a failed one leaves none.")
class AuditEntry:
    id: strawberry.ID
    at: datetime = strawberry.field(description="When the mutation's transaction began.")
    token_name: str = strawberry.field(description="The name of the token that sent it (as it was then).")
    operation: str = strawberry.field(description="The mutation's field name, e.g. recordExamples.")
    summary: JSON = strawberry.field(
        description="Its arguments by name, shortened: strings over 200 characters cut, lists over 5 items as "
        '{"count", "first"} (recordExamples: the count and the first executionIds), objects over 512 bytes as '
        '{"jsonBytes"}; never a secret (keys such as token, apiKey, password, secret show "[redacted]").'
    )
    affected_count: int | None = strawberry.field(
        description="Rows it changed: examples recorded (inserted + updated), tagged, archived, restored or "
        "deleted, a version's examples, 1 for a job, dataset, model or token changed, 0 when nothing changed."
    )


@strawberry.type(name="AuditEdge")
class AuditEdge:
    cursor: str
    node: AuditEntry


@strawberry.type(name="AuditConnection", description="A page of audit entries, newest first.")
class AuditConnection(Connection[AuditEntry]):
    @strawberry.field
    def edges(self) -> list[AuditEdge]:
        return [AuditEdge(cursor=c, node=n) for c, n in zip(self.cursors, self.nodes, strict=True)]


def _to_schema(entry: domain.AuditEntry) -> AuditEntry:
    return AuditEntry(
        id=strawberry.ID(str(entry.id)), at=entry.at, token_name=entry.token_name, operation=entry.operation,
        summary=cast(JSON, entry.summary), affected_count=entry.affected_count,
    )  # fmt: skip


async def audit_log(
    info: Info,
    operation: Annotated[
        str | None, strawberry.argument(description="Only this mutation's entries (its field name).")
    ] = None,
    first: int | None = 50,
    after: str | None = None,
) -> AuditConnection:
    info.context.require(Role.ADMIN)
    pool = info.context.pool
    found = await audit.page(pool, operation, 50 if first is None else first, after)
    return AuditConnection.of(found.map(_to_schema), lambda: audit.count(pool, operation))  # type: ignore[return-value]


AUDIT_LOG_DESCRIPTION = (
    f"Every mutation's entry, newest first (ADMIN): who, what, its arguments summarised, how many rows; first: 0 to "
    f"{MAX_PAGE}."
)
