"""Datasets: immutable versions of a curated selection, their split, diffs and export files."""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tuneyard.core.errors import ValidationError

MAX_NAME = 200
MAX_DESCRIPTION = 10_000
MAX_FRACTION = 0.5


class Split(enum.Enum):
    TRAIN = "TRAIN"
    VALIDATION = "VALIDATION"


class ExportFormat(enum.Enum):
    OPENAI_CHAT = "OPENAI_CHAT"
    ANTHROPIC_BEDROCK = "ANTHROPIC_BEDROCK"
    GEMINI_VERTEX = "GEMINI_VERTEX"
    SHAREGPT = "SHAREGPT"
    ALPACA = "ALPACA"
    RAW = "RAW"


@dataclass(frozen=True, slots=True)
class NewDataset:
    """A createDataset request, checked by `validated`."""

    name: str
    description: str | None
    filter: dict[str, Any]
    validation_fraction: float
    seed: int

    def validated(self) -> NewDataset:
        name = self.name.strip()
        if not name or len(name) > MAX_NAME or "\x00" in name:
            raise ValidationError(f"input.name: must be 1..{MAX_NAME} characters, not blank, without NUL (U+0000)")
        if self.description is not None and (len(self.description) > MAX_DESCRIPTION or "\x00" in self.description):
            raise ValidationError(f"input.description: at most {MAX_DESCRIPTION} characters, without NUL (U+0000)")
        fraction = self.validation_fraction
        if not (math.isfinite(fraction) and 0 <= fraction <= MAX_FRACTION):
            raise ValidationError(f"input.validationFraction: must be between 0 and {MAX_FRACTION}, got {fraction}")
        if not -(2**63) <= self.seed < 2**63:
            raise ValidationError("input.seed: must fit in 64 bits")
        return NewDataset(name, self.description, self.filter, float(fraction), self.seed)


@dataclass(frozen=True, slots=True)
class Dataset:
    id: int
    name: str
    version: int
    description: str | None
    filter: Any
    validation_fraction: float
    seed: int
    example_count: int
    train_count: int
    validation_count: int
    avg_quality_score: float | None
    content_hash: str
    is_current: bool
    created_at: datetime
    deleted_at: datetime | None


@dataclass(frozen=True, slots=True)
class DatasetExport:
    id: int
    dataset_id: int
    format: ExportFormat
    split: Split | None
    job_id: str | None
    file_name: str
    line_count: int
    size_bytes: int
    sha256: str
    created_at: datetime

    @property
    def download_path(self) -> str:
        return f"/exports/{self.id}"


@dataclass(slots=True)
class FrozenExample:
    """A dataset member as it was frozen: everything an exporter may render.

    JSON fields hold the stored JSON text (PostgreSQL's canonical jsonb output, e.g. `{"plan": "pro"}`),
    not decoded values: exporters show or embed it as it is, which keeps exports fast and byte-stable.
    """

    example_id: int
    split: Split
    execution_id: str
    user_request: str
    intent: str | None
    platform: str | None
    business_state: str | None
    execution_plan: str | None
    execution_result: str | None
    quality_score: float | None
    success: bool | None
    tags: list[str]
    post_publication_metrics: str | None
    patterns_discovered: list[str] | None
    created_at: datetime
    updated_at: datetime
    model_id: str | None = None  # provenance, never training text; None for members frozen before it was recorded


@dataclass(frozen=True, slots=True)
class DiffCounts:
    """Membership by example id; `changed` counts the members of both whose frozen content differs."""

    added: int
    removed: int
    unchanged: int
    changed: int


class DiffSide(enum.Enum):
    ADDED = "ADDED"  # in head, not in base
    REMOVED = "REMOVED"  # in base, not in head
    CHANGED = "CHANGED"  # in both, content differs (listed as frozen in head)
