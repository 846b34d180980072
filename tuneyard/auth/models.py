"""API tokens as the rest of Tuneyard sees them: never with their secret or its digest."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

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


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One mutation as the audit log kept it: who (token name), what (operation, summary), how many rows."""

    id: int
    at: datetime
    token_name: str
    operation: str
    summary: dict[str, Any]
    affected_count: int | None
