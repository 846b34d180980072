"""Settings read from TUNEYARD_* environment variables."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

from pydantic import Field, SecretStr
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
    # Jobs. Every Redis key and channel of the queue and of live progress starts with the namespace,
    # so that several installations (or test sessions) can share one Redis.
    queue_namespace: str = "tuneyard"
    serve_workers: int = 1  # worker processes `tuneyard serve` runs beside the API (0: none)
    worker_threads: int = 2  # jobs one worker process runs at a time
    worker_poll_ms: int = 20  # longest idle wait between queue polls: the latency floor of a new job
    # A stopping worker hands resumable runs back at once; a run in a not_resumable() part gets this long to end.
    worker_stop_grace_seconds: float = 30.0
    # Modules a worker imports besides the built-in tasks modules (each binds job types with job_task), as a
    # JSON list: TUNEYARD_WORKER_TASK_MODULES='["my_plugin.tasks"]'.
    worker_task_modules: list[str] = []
    job_heartbeat_seconds: float = 5.0
    job_stale_seconds: float = 30.0  # a running job without a heartbeat for this long has lost its worker
    job_reap_seconds: float = 10.0  # how often workers and servers look for such jobs
    job_max_attempts: int = 3
    # A job still QUEUED after this long, or a deferred one this long past its time, has its message sent again.
    job_requeue_seconds: float = 120.0
    job_progress_interval: float = 0.1  # at most one progress event per job in this many seconds
    # Request limits (tuneyard.server.edge, tuneyard.core.graphql.limits): beyond them a request is refused
    # with 413 (the body) or a GraphQL error with its own code (the document).
    max_body_bytes: int = 8 * 1024 * 1024
    query_max_depth: int = 15  # GraphiQL's introspection query is 13 levels deep
    query_max_aliases: int = 100
    query_max_tokens: int = 10_000
    query_max_cost: int = 50_000  # rows: `first` multiplied down nested connections, plus field weights (stats)
    query_max_rows: int = 10_000  # rows selected in all: `first`/`last` multiplied down connections, over aliases
    query_max_chars: int = 200_000  # the document's length (a comment or a string literal is one token)
    max_response_bytes: int = 32 * 1024 * 1024  # an encoded response past this is replaced by RESPONSE_TOO_LARGE
    # An "expensive" request (estimated cost at least expensive_cost) needs one of its token's expensive_per_token
    # slots on this server; without a free one it is refused as retryable.
    expensive_cost: int = 5_000
    expensive_per_token: int = 2
    log_format: str = "text"  # "json": one JSON object per log line (the access log included)
    access_log: bool = True  # one line per request: method, path, status, duration, token name
    # Providers (tuneyard.providers): unset means "not configured"; secrets are never shown by the API or logged.
    openai_api_key: SecretStr | None = None
    openai_base_url: str | None = None  # default: the SDK's (https://api.openai.com/v1)
    vertex_project: str | None = None
    vertex_location: str = "us-central1"
    vertex_bucket: str | None = None  # training files are uploaded to gs://<bucket>/tuneyard/...
    vertex_access_token: SecretStr | None = None  # an OAuth2 access token, or:
    vertex_credentials_file: Path | None = None  # a service account key file (never Google's default lookup)
    vertex_base_url: str | None = None  # default: https://<location>-aiplatform.googleapis.com/
    gcs_base_url: str | None = None  # default: https://storage.googleapis.com
    anthropic_api_key: SecretStr | None = None
    anthropic_base_url: str | None = None
    # LOCAL fine-tunes (the [local] extra): base models besides the bundled SmolLM2, as a JSON object of name to a
    # Hugging Face model directory or a .gguf file; and where to train ("auto": a GPU when there is one).
    local_models: dict[str, Path] = {}
    local_device: str = "auto"
    ollama_url: str | None = None  # an Ollama server (http://127.0.0.1:11434): the import target, and inference
    # Fine-tunes poll their provider job this often (a delayed message between polls, no thread waits).
    fine_tune_poll_seconds: float = 30.0
    # The day provider dates are compared with (fine-tuning closes, models shut down); unset: today (UTC).
    today: date | None = None

    def current_date(self) -> date:
        return self.today or datetime.now(UTC).date()

    def provider_secrets(self) -> list[str]:
        """Every configured secret, for redaction."""
        secrets = (self.openai_api_key, self.vertex_access_token, self.anthropic_api_key)
        return [s.get_secret_value() for s in secrets if s is not None]

    @property
    def export_dir(self) -> Path:
        return self.home / "exports"
