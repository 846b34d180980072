"""The registry: models, the active model of each purpose and its history, benchmark results."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from tuneyard.core.errors import ValidationError
from tuneyard.providers.models import Provider


class ModelStatus(enum.Enum):
    READY = "READY"
    RETIRED = "RETIRED"


@dataclass(frozen=True, slots=True)
class NewModel:
    """A model to register (a fine-tune's, or one added by hand)."""

    name: str
    provider: Provider
    base_model: str
    provider_model_id: str
    fine_tuned: bool
    dataset_id: int | None = None
    job_id: int | None = None
    hyperparameters: dict[str, Any] | None = None
    metrics: dict[str, Any] | None = None
    shutdown_at: date | None = None


@dataclass(frozen=True, slots=True)
class Model:
    id: int
    name: str
    provider: Provider
    base_model: str
    provider_model_id: str
    fine_tuned: bool
    dataset_id: int | None
    job_id: int | None
    hyperparameters: Any
    metrics: Any
    status: ModelStatus
    shutdown_at: date | None
    created_at: datetime
    retired_at: datetime | None


MAX_PURPOSE = 100
MAX_REASON = 1_000
DEFAULT_PURPOSE = "orchestrator"


@dataclass(frozen=True, slots=True)
class ActiveModelChange:
    id: int
    purpose: str
    model_id: int
    previous_model_id: int | None
    reason: str | None
    changed_by: str
    rollback_of: int | None
    at: datetime


@dataclass(frozen=True, slots=True)
class BenchmarkResult:
    id: int
    model_id: int
    dataset_id: int
    job_id: int
    example_count: int
    failures: int
    json_valid_rate: float
    plan_exact_match: float
    step_f1: float
    latency_p50_ms: float
    latency_p95_ms: float
    input_tokens: int
    output_tokens: int
    cost_usd: float | None
    created_at: datetime


def check_purpose(purpose: str) -> str:
    cleaned = purpose.strip()
    if not 1 <= len(cleaned) <= MAX_PURPOSE or "\x00" in cleaned:
        raise ValidationError(f"purpose: must be 1 to {MAX_PURPOSE} characters, not blank, without NUL (U+0000)")
    return cleaned


def check_reason(reason: str | None) -> str | None:
    if reason is not None and (len(reason) > MAX_REASON or "\x00" in reason):
        raise ValidationError(f"reason: at most {MAX_REASON} characters, without NUL (U+0000)")
    return reason


def shut_down(model: Model, today: date) -> bool:
    return model.shutdown_at is not None and model.shutdown_at <= today
