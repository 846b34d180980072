"""Settings read from TUNEYARD_* environment variables."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def default_home() -> Path:
    """Where the embedded services and export files live unless TUNEYARD_HOME says otherwise."""
    return Path.home() / ".local" / "share" / "tuneyard"


class Settings(BaseSettings):
    """Runtime configuration; unset URLs mean the embedded PostgreSQL and Redis."""

    model_config = SettingsConfigDict(env_prefix="TUNEYARD_", extra="ignore")

    home: Path = Field(default_factory=default_home)
    database_url: str | None = None
    redis_url: str | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    db_pool_size: int = 10
    # How long an authenticated token is trusted without asking the database again.
    token_cache_seconds: float = 5.0

    @property
    def export_dir(self) -> Path:
        return self.home / "exports"
