"""What every resolver can reach: the pool, the settings and who is asking."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import asyncpg
from strawberry.types import Info as StrawberryInfo

from tuneyard.config import Settings
from tuneyard.domain.auth import Principal, Role
from tuneyard.errors import UnauthenticatedError
from tuneyard.services.auth import require
from tuneyard.services.progress import ProgressHub


@dataclass
class Context:
    pool: asyncpg.Pool
    settings: Settings
    principal: Principal | None = None
    request: Any = None
    response: Any = None
    connection_params: Any = None  # the WebSocket connection_init payload
    progress_hub: ProgressHub | None = None  # this server's one listener for job changes

    def require(self, needed: Role) -> Principal:
        """The caller, if their role reaches `needed`; FORBIDDEN otherwise."""
        if self.principal is None:
            raise UnauthenticatedError("missing bearer token")
        require(self.principal, needed)
        return self.principal


Info = StrawberryInfo[Context, None]
