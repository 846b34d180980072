"""Roles, the principal a request acts as, and the one check of a role (every domain's resolvers use it)."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from tuneyard.core.errors import ForbiddenError, UnauthenticatedError


class Role(enum.IntEnum):
    """READER < CURATOR < ADMIN: each role may do everything the ones below it may."""

    READER = 1
    CURATOR = 2
    ADMIN = 3


@dataclass(frozen=True, slots=True)
class Principal:
    token_id: int
    name: str
    role: Role

    def allows(self, needed: Role) -> bool:
        return self.role >= needed


def require(principal: Principal | None, needed: Role) -> Principal:
    """The principal, if its role reaches `needed`; UNAUTHENTICATED without one, FORBIDDEN below it."""
    if principal is None:
        raise UnauthenticatedError("missing bearer token")
    if not principal.allows(needed):
        raise ForbiddenError(f"this operation needs the {needed.name} role; your token has {principal.role.name}")
    return principal
