"""GraphQL types for tokens: never a token's secret or digest, except the secret of one just created."""

from __future__ import annotations

from datetime import datetime

import strawberry

from tuneyard.auth import models
from tuneyard.core.principal import Role

# The roles of core.principal are the GraphQL enum (strawberry.enum registers the class in place).
strawberry.enum(
    Role, name="Role", description="READER < CURATOR < ADMIN: each may do everything the ones before it may."
)


@strawberry.type(description="An API token, without its secret (only a SHA-256 of it is kept).")
class ApiToken:
    id: strawberry.ID
    name: str
    role: Role
    created_at: datetime
    last_used_at: datetime | None = strawberry.field(
        description="When it last authenticated a request (updated at most once per TUNEYARD_TOKEN_CACHE_SECONDS)."
    )
    revoked_at: datetime | None = strawberry.field(description="When it was revoked; null while it works.")


def to_schema(token: models.ApiToken) -> ApiToken:
    return ApiToken(
        id=strawberry.ID(str(token.id)), name=token.name, role=token.role, created_at=token.created_at,
        last_used_at=token.last_used_at, revoked_at=token.revoked_at,
    )  # fmt: skip


@strawberry.type(description="A token just created: its secret is shown here once and can never be read again.")
class CreatedToken:
    token: str = strawberry.field(description="The secret, for 'Authorization: Bearer <token>'; shown once.")
    api_token: ApiToken


def created_to_schema(created: models.CreatedToken) -> CreatedToken:
    return CreatedToken(token=created.token, api_token=to_schema(created.api_token))
