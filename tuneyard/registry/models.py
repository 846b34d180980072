"""Registered models."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

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
