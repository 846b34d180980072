"""The EXPORT job kind: its typed input and result, stored as the job's JSON with the keys clients read."""

from __future__ import annotations

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
