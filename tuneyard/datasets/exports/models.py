"""The EXPORT job kind: its typed input and result, stored as the job's JSON with the keys clients read."""

from __future__ import annotations

from dataclasses import dataclass

from tuneyard.datasets.models import ExportFormat, Split
from tuneyard.jobs.models import JobKind, JobModel, JobType


class ExportInput(JobModel):
    dataset_id: str
    format: ExportFormat


class ExportedFile(JobModel):
    id: str
    split: Split | None  # None: the one file of a version without a validation split
    line_count: int
    size_bytes: int
    sha256: str
    download_url: str


class ExportTokens(JobModel):
    total: int
    train: int
    validation: int
    max_per_example: int
    limit_per_example: int | None


class ExportProblem(JobModel):
    split: Split | None
    line: int
    example_id: str
    problem: str


class ExportResult(JobModel):
    dataset_id: str
    format: ExportFormat
    exports: list[ExportedFile]
    line_count: int
    tokenizer: str
    tokens: ExportTokens
    valid: bool
    problem_count: int
    problems: list[ExportProblem]
    warnings: list[str]


EXPORT_JOB = JobType(JobKind.EXPORT, actor="export.run", queue="export", input=ExportInput, result=ExportResult)


BATCH = 5000  # a version's rows read (and their tokens counted) at a time
MAX_LARGEST = 1000  # per-example token counts kept to tell how many examples exceed a context


@dataclass(frozen=True, slots=True)
class TokenCounts:
    """A version's training-text tokens per split (the exporters' count), and its largest examples' counts."""

    tokenizer: str
    train: int
    validation: int
    largest: list[int]  # descending, at most MAX_LARGEST

    def over(self, limit: int) -> tuple[int, bool]:
        """How many examples have more than `limit` tokens, and whether that count is exact (False: at least)."""
        count = sum(1 for n in self.largest if n > limit)
        return count, count < MAX_LARGEST
