"""Settings read from TUNEYARD_* environment variables."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
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
    # The longest an idle worker waits before looking at its queues again: a new message wakes it at once (a Redis
    # notice; RabbitMQ pushes), so this only bounds the delay of a message whose notice was lost.
    worker_poll_ms: int = Field(default=1000, ge=10, le=10_000)
    # The queue: unset, the Redis of redis_url; amqp:// or amqps://, RabbitMQ; redis:// or rediss://, another Redis.
    broker_url: str | None = None
    # The queues `tuneyard worker` (and serve's workers) take, comma-separated (empty: every queue), and those it
    # leaves to other hosts: TUNEYARD_WORKER_EXCLUDE_QUEUES=finetune keeps fine-tunes for the GPU host.
    worker_queues: str = ""
    worker_exclude_queues: str = ""
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
    # tagExamples, undoTagOperation, archiveExamples and restoreExamples over more examples than this run as a
    # CURATION job (README: Bulk operations as jobs), walking the ids in chunks of bulk_job_chunk_ids, one
    # transaction each; at or under it, inline in one transaction.
    bulk_job_threshold: int = Field(default=10_000, ge=0, le=1_000_000)
    bulk_job_chunk_ids: int = Field(default=5_000, ge=1, le=65_536)
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
    # Object storage (tuneyard.core.storage) for export files and LOCAL fine-tuned models, shared by every host:
    # s3://<bucket>[/<prefix>] on any S3-compatible store. Unset: files on this host's disk under TUNEYARD_HOME.
    storage_url: str | None = None
    storage_endpoint_url: str | None = None  # default: AWS's; e.g. http://127.0.0.1:9000 for a MinIO
    storage_region: str = "us-east-1"
    storage_access_key_id: str | None = None  # unset: the AWS_* environment variables / instance credentials
    storage_secret_access_key: SecretStr | None = None
    storage_allow_http: bool = False  # an http:// endpoint (a local MinIO or moto) is refused unless this is true
    # GET /exports/{id}: "redirect" (307 to a presigned URL valid storage_url_expiry_seconds) or "stream" (through
    # the replica that answers).
    storage_downloads: Literal["redirect", "stream"] = "redirect"
    storage_url_expiry_seconds: int = Field(default=300, ge=1, le=7 * 24 * 3600)  # S3 signs for 7 days at most

    @field_validator("storage_url")
    @classmethod
    def _storage_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        scheme, _, rest = value.strip().partition("://")
        bucket = rest.split("/", 1)[0]
        if scheme != "s3" or not bucket:
            raise ValueError(
                f"TUNEYARD_STORAGE_URL must be s3://<bucket>[/<prefix>] (unset: files on local disk), got {value!r}"
            )
        return value.strip()

    def current_date(self) -> date:
        return self.today or datetime.now(UTC).date()

    def provider_secrets(self) -> list[str]:
        """Every configured secret, for redaction."""
        secrets = (
            self.openai_api_key,
            self.vertex_access_token,
            self.anthropic_api_key,
            self.storage_secret_access_key,
        )
        return [s.get_secret_value() for s in secrets if s is not None]

    @property
    def export_dir(self) -> Path:
        return self.home / "exports"
