"""Resolvers for tokens (list, create, revoke) and the audit log (ADMIN only)."""

from __future__ import annotations

import strawberry

from tuneyard.auth import service
from tuneyard.auth.audit_types import AUDIT_LOG_DESCRIPTION, AuditConnection, audit_log
from tuneyard.auth.types import ApiToken, CreatedToken, created_to_schema, to_schema
from tuneyard.core.audit import audited
from tuneyard.core.graphql.context import Info
from tuneyard.core.principal import Role


async def tokens(info: Info) -> list[ApiToken]:
    info.context.require(Role.ADMIN)
    return [to_schema(t) for t in await service.listed(info.context.pool)]


@audited
async def create_token(info: Info, name: str, role: Role) -> CreatedToken:
    info.context.require(Role.ADMIN)
    return created_to_schema(await service.mint(info.context.pool, role, name))


@audited
async def revoke_token(info: Info, id: strawberry.ID) -> ApiToken:
    principal = info.context.require(Role.ADMIN)
    return to_schema(await service.revoke(info.context.pool, id, principal))


@strawberry.type
class Query:
    tokens: list[ApiToken] = strawberry.field(
        resolver=tokens, description="Every API token, revoked ones too, newest first; never a secret (ADMIN)."
    )
    audit_log: AuditConnection = strawberry.field(resolver=audit_log, description=AUDIT_LOG_DESCRIPTION)


@strawberry.type
class Mutation:
    create_token: CreatedToken = strawberry.field(
        resolver=create_token,
        description="Mint a token (ADMIN); its secret is in the answer, once: only a SHA-256 of it is kept. "
        "name: 1 to 100 characters.",
    )
    revoke_token: ApiToken = strawberry.field(
        resolver=revoke_token,
        description="Revoke a token (ADMIN): every server refuses it within TUNEYARD_TOKEN_CACHE_SECONDS (5). Revoking "
        "it again changes nothing; the last unrevoked ADMIN token cannot be revoked (CONFLICT).",
    )
