"""What every resolver can reach: the pool, the settings and who is asking."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import asyncpg
from strawberry.types import Info as StrawberryInfo

from tuneyard.core.config import Settings
from tuneyard.core.principal import Principal, Role, require


@dataclass
class Context:
    pool: asyncpg.Pool
    settings: Settings
    principal: Principal | None = None
    request: Any = None
    response: Any = None
    connection_params: Any = None  # the WebSocket connection_init payload
    # This server's one listener for job changes (a tuneyard.jobs.progress.ProgressHub; core names no domain).
    progress_hub: object | None = None

    def require(self, needed: Role) -> Principal:
        """The caller, if their role reaches `needed`; FORBIDDEN otherwise."""
        return require(self.principal, needed)


Info = StrawberryInfo[Context, None]
