"""Roles and the principal a request acts as."""

from __future__ import annotations

import enum
from dataclasses import dataclass


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
