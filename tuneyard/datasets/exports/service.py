"""Exporting a dataset version: stream its frozen rows, render, validate and count tokens, write files atomically.

`export_dataset` is the whole use case; the "export.run" actor only adapts a job's run context to
ExportRun. Files are written under a temporary name and renamed when complete, then recorded as
DatasetExport rows; any failure or cancellation removes every file this run wrote.
"""

from __future__ import annotations

import asyncio
import hashlib
import multiprocessing
import os
import re
import time
import uuid
from collections import deque
from collections.abc import Sequence
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Protocol

import asyncpg
import orjson

from tuneyard.core.config import Settings
from tuneyard.core.errors import ConflictError, NotFoundError
from tuneyard.datasets import repository as repo
from tuneyard.datasets import service as datasets
from tuneyard.datasets.exports.formats import exporter_for, tokens, training_text
from tuneyard.datasets.exports.formats.base import Exporter, user_text
from tuneyard.datasets.exports.formats.tokens import TOKENIZER
from tuneyard.datasets.models import Dataset, DatasetExport, ExportFormat, FrozenExample, Split
from tuneyard.jobs.models import Job, JobKind
from tuneyard.jobs.service import JobRun, create_and_enqueue

EXPORT_ACTOR = "export.run"
BATCH = 5000
IN_FLIGHT = 4  # batches whose tokens are being counted while the next is rendered
COUNT_IN_PROCESS = 50_000  # examples; fewer are counted in a thread (starting processes costs ~0.2-0.5 s)
COUNTERS = 2  # token-counting processes (about 85 MB each): counting is most of an export's CPU time
MAX_LISTED_PROBLEMS = 1000
MIN_EXAMPLES = 10  # OpenAI refuses training files with fewer examples; others learn little from them
_PROGRESS_EVERY = 0.5  # seconds
_SPLITS = {"TRAIN": Split.TRAIN, "VALIDATION": Split.VALIDATION}


class ExportRun(Protocol):
    """What an export needs from the job running it."""

    async def progress(self, fraction: float, message: str | None = None) -> None: ...

    async def checkpoint(self) -> None:
        """Raise (anything) to stop here: the job was cancelled."""


class _Unattended:
    async def progress(self, fraction: float, message: str | None = None) -> None:
        return None

    async def checkpoint(self) -> None:
        return None


@dataclass
class _File:
    """One output file being written: temporary until renamed."""

    split: Split | None
    temp: Path
    final: Path
    handle: BinaryIO
    digest: Any = field(default_factory=hashlib.sha256)
    lines: int = 0
    size: int = 0
    pending: list[bytes] = field(default_factory=list)

    def add(self, line: bytes) -> int:
        """Queue a line; its 1-based line number."""
        self.pending.append(line)
        return self.lines + len(self.pending)

    def write(self) -> None:
        if not self.pending:
            return
        data = b"\n".join(self.pending) + b"\n"
        self.handle.write(data)
        self.digest.update(data)
        self.lines += len(self.pending)
        self.size += len(data)
        self.pending = []


@dataclass
class _Tally:
    """What the validator and the tokenizer found, across the run."""

    problems: list[dict[str, Any]] = field(default_factory=list)
    problem_count: int = 0
    tokens: dict[Split, int] = field(default_factory=lambda: {Split.TRAIN: 0, Split.VALIDATION: 0})
    max_tokens: int = 0
    over_limit: int = 0

    def problem(self, file: _File, line: int, example_id: int, message: str) -> None:
        self.problem_count += 1
        if len(self.problems) < MAX_LISTED_PROBLEMS:
            split = None if file.split is None else file.split.value
            self.problems.append({"split": split, "line": line, "exampleId": str(example_id), "problem": message})


def file_stem(dataset: Dataset, fmt: ExportFormat, split: Split | None) -> str:
    """A readable, safe file name stem: name-v3-openai_chat[-train]."""
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", dataset.name).strip("-.") or "dataset"
    suffix = "" if split is None else f"-{split.value.lower()}"
    return f"{slug[:80]}-v{dataset.version}-{fmt.value.lower()}{suffix}"


def _open(export_dir: Path, stem: str, split: Split | None) -> _File:
    """A new temporary file (hidden, never served) and the name it gets when complete."""
    tag = uuid.uuid4().hex[:12]
    temp = export_dir / f".{tag}.part"
    return _File(split, temp, export_dir / f"{stem}-{tag}.jsonl", open(temp, "xb"))


def _frozen(row: asyncpg.Record) -> FrozenExample:
    values = tuple(row)
    return FrozenExample(values[0], _SPLITS[values[1]], *values[2:])


@dataclass(slots=True)
class _Batch:
    """A rendered batch, waiting for its token counts: per example its file, line number, id and texts."""

    files: list[_File]
    lines: list[int]
    ids: list[int]
    users: list[str]
    assistants: list[str]


class _Writer:
    """Renders, validates and writes batches of rows (in a thread), keeping the texts whose tokens are counted.

    A text-only format (Exporter.text_only) is rendered from its frame and the rows of STREAM_TEXT_SQL: no
    record, no FrozenExample, and a line is checked in full only when one of its texts is not is_text.
    """

    def __init__(self, exporter: Exporter, files: dict[Split, _File], tally: _Tally) -> None:
        self.exporter = exporter
        self.files = files
        self.tally = tally
        self.sql = repo.STREAM_TEXT_SQL if exporter.text_only else repo.STREAM_SQL
        self.render = self._render_texts if exporter.text_only else self._render_records

    def _render_texts(self, rows: Sequence[asyncpg.Record]) -> _Batch:
        exporter, tally, dumps = self.exporter, self.tally, orjson.dumps
        head, middle, tail = exporter.frame
        files = {split.value: file for split, file in self.files.items()}
        batch = _Batch([], [], [], [], [])
        for example_id, split, request, intent, platform, business_state, plan in rows:
            user = user_text(request, intent, platform, business_state)
            assistant = plan or ""
            file = files[split]
            line = b"".join((head, dumps(user), middle, dumps(assistant), tail))
            file.pending.append(line)
            number = file.lines + len(file.pending)
            if not user or user.isspace() or not assistant or assistant.isspace():
                for problem in exporter.validate_line(line):
                    tally.problem(file, number, example_id, problem)
            batch.files.append(file)
            batch.lines.append(number)
            batch.ids.append(example_id)
            batch.users.append(user)
            batch.assistants.append(assistant)
        for file in self.files.values():
            file.write()
        return batch

    def _render_records(self, rows: Sequence[asyncpg.Record]) -> _Batch:
        exporter, tally = self.exporter, self.tally
        batch = _Batch([], [], [], [], [])
        for row in rows:
            example = _frozen(row)
            text = training_text(example)
            record = exporter.record(example, text)
            file = self.files[example.split]
            number = file.add(orjson.dumps(record))
            for problem in exporter.validate(record):
                tally.problem(file, number, example.example_id, problem)
            batch.files.append(file)
            batch.lines.append(number)
            batch.ids.append(example.example_id)
            batch.users.append(text.user)
            batch.assistants.append(text.assistant)
        for file in self.files.values():
            file.write()
        return batch

    def add_counts(self, batch: _Batch, counts: list[int]) -> None:
        tally, limit = self.tally, self.exporter.token_limit
        validation = self.files[Split.VALIDATION]
        total = sum(counts)
        if validation.split is None:  # one file: every example is in the train split
            tally.tokens[Split.TRAIN] += total
        else:
            in_validation = sum(n for file, n in zip(batch.files, counts, strict=True) if file is validation)
            tally.tokens[Split.VALIDATION] += in_validation
            tally.tokens[Split.TRAIN] += total - in_validation
        most = max(counts, default=0)
        tally.max_tokens = max(tally.max_tokens, most)
        if limit is not None and most > limit:
            for file, number, example_id, tokens in zip(batch.files, batch.lines, batch.ids, counts, strict=True):
                if tokens > limit:
                    tally.over_limit += 1
                    tally.problem(file, number, example_id, f"{tokens} tokens, more than the limit of {limit}")


def _counter(examples: int) -> Executor:
    """Where tokens are counted: a thread for a small export; from COUNT_IN_PROCESS examples on, a process of its
    own (tiktoken releases the GIL, but takes it back for every text, and rendering holds it most of the time)."""
    if examples < COUNT_IN_PROCESS:
        return ThreadPoolExecutor(1, thread_name_prefix="export-tokens")
    return ProcessPoolExecutor(COUNTERS, mp_context=multiprocessing.get_context("spawn"), initializer=tokens.warm)


async def export_dataset(
    pool: asyncpg.Pool,
    export_dir: Path,
    dataset_id: int,
    fmt: ExportFormat,
    run: ExportRun | None = None,
    job_id: str | None = None,
) -> dict[str, Any]:
    """Write the version's export files (one, or one per split when it has a validation split); the job result."""
    run = run or _Unattended()
    dataset = await repo.get(pool, dataset_id)
    if dataset is None:
        raise NotFoundError(f"no dataset with id {dataset_id}")
    if dataset.deleted_at is not None:
        raise ConflictError(f"dataset {dataset.name} v{dataset.version} is deleted; it cannot be exported")
    exporter = exporter_for(fmt)
    await asyncio.to_thread(export_dir.mkdir, parents=True, exist_ok=True)
    splits: list[Split | None] = [None] if dataset.validation_count == 0 else [Split.TRAIN, Split.VALIDATION]
    files: dict[Split, _File] = {}
    written: list[Path] = []
    try:
        for split in splits:
            file = _open(export_dir, file_stem(dataset, fmt, split), split)
            written.append(file.temp)
            for member in [Split.TRAIN, Split.VALIDATION] if split is None else [split]:
                files[member] = file
        tally = _Tally()
        await _stream(pool, dataset, _Writer(exporter, files, tally), run)
        await run.checkpoint()
        unique = list({id(f): f for f in files.values()}.values())
        for file in unique:
            file.handle.flush()
            os.fsync(file.handle.fileno())
            file.handle.close()
            os.replace(file.temp, file.final)
            written.append(file.final)
        recorded = await _record(pool, dataset, fmt, job_id, unique)
    except BaseException:
        for file in files.values():
            file.handle.close()
        for path in written:
            path.unlink(missing_ok=True)
        raise
    await run.progress(1.0, f"exported {dataset.example_count:,} examples")
    return _result(dataset, fmt, recorded, tally, exporter)


async def _stream(pool: asyncpg.Pool, dataset: Dataset, writer: _Writer, run: ExportRun) -> None:
    """Feed every frozen row, in example id order, through the writer: while one batch is rendered, the next is
    fetched and the tokens of up to IN_FLIGHT earlier ones are counted. Memory stays bounded by the batches."""
    done, last_report = 0, time.monotonic()
    loop = asyncio.get_running_loop()
    counting: deque[tuple[_Batch, asyncio.Future[list[int]]]] = deque()
    with (
        ThreadPoolExecutor(1, thread_name_prefix="export-render") as renderer,
        _counter(dataset.example_count) as counter,
    ):
        async with pool.acquire() as conn, conn.transaction(readonly=True):
            cursor = await conn.cursor(writer.sql, dataset.id)
            pending = asyncio.ensure_future(cursor.fetch(BATCH))
            try:
                while rows := await pending:
                    pending = asyncio.ensure_future(cursor.fetch(BATCH))
                    await run.checkpoint()
                    batch = await loop.run_in_executor(renderer, writer.render, rows)
                    del rows
                    count = loop.run_in_executor(counter, tokens.count_examples, batch.users, batch.assistants)
                    counting.append((batch, count))
                    if len(counting) > IN_FLIGHT:
                        counted, count = counting.popleft()
                        writer.add_counts(counted, await count)
                    done += len(batch.ids)
                    if time.monotonic() - last_report >= _PROGRESS_EVERY:
                        last_report = time.monotonic()
                        fraction = 0.99 * done / dataset.example_count
                        await run.progress(fraction, f"{done:,} of {dataset.example_count:,}")
                while counting:
                    counted, count = counting.popleft()
                    writer.add_counts(counted, await count)
            finally:
                futures: list[asyncio.Future[Any]] = [pending, *(count for _, count in counting)]
                for future in futures:
                    future.cancel()
                await asyncio.gather(*futures, return_exceptions=True)


async def _record(
    pool: asyncpg.Pool, dataset: Dataset, fmt: ExportFormat, job_id: str | None, files: list[_File]
) -> list[DatasetExport]:
    """Record the renamed files; if this job's earlier run already did, drop ours and use those."""
    entries = [
        {"split": None if f.split is None else f.split.value, "file_name": f.final.name, "line_count": f.lines,
         "size_bytes": f.size, "sha256": f.digest.hexdigest()}
        for f in files
    ]  # fmt: skip
    async with pool.acquire() as conn:
        recorded = await repo.record_exports(conn, dataset.id, fmt, job_id, entries)
        if recorded is not None:
            return recorded
        assert job_id is not None
        for f in files:
            f.final.unlink(missing_ok=True)
        return await repo.exports_of_job(conn, job_id)


def _result(
    dataset: Dataset, fmt: ExportFormat, exports: list[DatasetExport], tally: _Tally, exporter: Exporter
) -> dict[str, Any]:
    warnings = []
    if dataset.example_count < MIN_EXAMPLES:
        warnings.append(f"only {dataset.example_count} examples: fine-tuning needs at least {MIN_EXAMPLES}")
    if dataset.validation_count == 0:
        warnings.append("no validation split: set validationFraction to measure over-fitting")
    elif dataset.validation_count < MIN_EXAMPLES:
        warnings.append(f"only {dataset.validation_count} validation examples")
    if tally.over_limit:
        warnings.append(f"{tally.over_limit} examples exceed the format's limit of {exporter.token_limit} tokens")
    return {
        "datasetId": str(dataset.id),
        "format": fmt.value,
        "exports": [
            {
                "id": str(e.id),
                "split": None if e.split is None else e.split.value,
                "lineCount": e.line_count,
                "sizeBytes": e.size_bytes,
                "sha256": e.sha256,
                "downloadUrl": e.download_path,
            }
            for e in exports
        ],
        "lineCount": sum(e.line_count for e in exports),
        "tokenizer": TOKENIZER,
        "tokens": {
            "total": tally.tokens[Split.TRAIN] + tally.tokens[Split.VALIDATION],
            "train": tally.tokens[Split.TRAIN],
            "validation": tally.tokens[Split.VALIDATION],
            "maxPerExample": tally.max_tokens,
            "limitPerExample": exporter.token_limit,
        },
        "valid": tally.problem_count == 0,
        "problemCount": tally.problem_count,
        "problems": tally.problems,
        "warnings": warnings,
    }


async def export_file(pool: asyncpg.Pool, export_dir: Path, export_id: str) -> tuple[DatasetExport, Path] | None:
    """The export and its file, for a download; None when the id, the row or the file is not there."""
    try:
        number = int(export_id)
    except ValueError:
        return None
    found = await repo.get_export(pool, number)
    if found is None:
        return None
    path = await asyncio.to_thread(_inside, export_dir, found.file_name)
    return None if path is None else (found, path)


def _inside(export_dir: Path, file_name: str) -> Path | None:
    """The file, if it is a regular file directly in the export directory (never a path outside it)."""
    root = export_dir.resolve()
    path = (root / file_name).resolve()
    return path if path.parent == root and path.is_file() else None


async def start_export(pool: asyncpg.Pool, dataset_id: str, fmt: ExportFormat, created_by: str) -> Job:
    """Start an EXPORT job for a version that exists and is not deleted."""
    dataset = await datasets.require(pool, dataset_id)
    if dataset.deleted_at is not None:
        raise ConflictError(f"dataset {dataset.name} v{dataset.version} is deleted; it cannot be exported")
    job_input = {"datasetId": str(dataset.id), "format": fmt.value}
    return await create_and_enqueue(pool, JobKind.EXPORT, job_input, actor=EXPORT_ACTOR, created_by=created_by)


async def run_export(run: JobRun) -> dict[str, Any]:
    """The EXPORT job's work (actor "export.run"): export_dataset with the job's progress and checkpoints."""
    dataset_id, fmt = int(run.input["datasetId"]), ExportFormat(run.input["format"])
    return await export_dataset(run.pool, Settings().export_dir, dataset_id, fmt, run, job_id=str(run.id))
