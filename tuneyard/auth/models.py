"""API tokens as the rest of Tuneyard sees them: never with their secret or its digest."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from tuneyard.core.principal import Role


@dataclass(frozen=True, slots=True)
class ApiToken:
    id: int
    name: str
    role: Role
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


@dataclass(frozen=True, slots=True)
class CreatedToken:
    """A token just minted: `token` is its secret, shown this once (only its SHA-256 is kept)."""

    token: str
    api_token: ApiToken
