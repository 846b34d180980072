"""Exporting a dataset version: stream its frozen rows, render, validate and count tokens, write files atomically.

`export_dataset` is the whole use case; the "export.run" actor only adapts a job's run context to
ExportRun. Files are written under a temporary name on this host, stored when complete (renamed on local disk;
uploaded to object storage, where an object appears whole or not at all), then recorded as DatasetExport rows;
any failure or cancellation removes every file this run wrote. Only recorded files are ever served or trained on.
"""

from __future__ import annotations

import asyncio
import os
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol

import asyncpg

from tuneyard.core.errors import ConflictError, NotFoundError, ValidationError
from tuneyard.core.storage import ArtifactStore
from tuneyard.datasets import service as datasets
from tuneyard.datasets.exports import repository as repo
from tuneyard.datasets.exports.formats import exporter_for, tokens
from tuneyard.datasets.exports.formats.base import Exporter
from tuneyard.datasets.exports.formats.tokens import TOKENIZER
from tuneyard.datasets.exports.models import (
    BATCH,
    EXPORT_JOB,
    ExportedFile,
    ExportInput,
    ExportResult,
    ExportTokens,
)
from tuneyard.datasets.exports.recorded import export_download as export_download
from tuneyard.datasets.exports.recorded import export_file as export_file
from tuneyard.datasets.exports.recorded import exports_of as exports_of
from tuneyard.datasets.exports.stored import (
    MEDIA_TYPE,
    Where,
    as_store,
    export_store,
    forget,
    plain,
    remove_earlier_attempts,
)
from tuneyard.datasets.exports.texts import split_texts as split_texts
from tuneyard.datasets.exports.texts import token_counts as token_counts
from tuneyard.datasets.exports.writer import (
    Batch,
    ExportProgress,
    OutputFile,
    Tally,
    Writer,
    file_stem,
    open_output,
    token_counter,
)
from tuneyard.datasets.models import Dataset, DatasetExport, ExportFormat, Split
from tuneyard.jobs.models import Job
from tuneyard.jobs.service import JobRun, create_and_enqueue

IN_FLIGHT = 4  # batches whose tokens are being counted while the next is rendered
MIN_EXAMPLES = 10  # OpenAI refuses training files with fewer examples; others learn little from them


class ExportRun(Protocol):
    """What an export needs from the job running it."""

    async def progress(self, fraction: float, message: str | None = None) -> None: ...

    async def check_cancelled(self) -> None:
        """Raise (anything) to stop here: the job was cancelled (or its worker is stopping)."""


class _Unattended:
    async def progress(self, fraction: float, message: str | None = None) -> None:
        return None

    async def check_cancelled(self) -> None:
        return None


async def export_dataset(
    pool: asyncpg.Pool,
    where: Where,
    dataset_id: int,
    fmt: ExportFormat,
    run: ExportRun | None = None,
    job_id: str | None = None,
) -> ExportResult:
    """Write the version's export files (one, or one per split when it has a validation split); the job result."""
    run = run or _Unattended()
    dataset = await datasets.get(pool, dataset_id)
    if dataset is None:
        raise NotFoundError(f"no dataset with id {dataset_id}")
    if dataset.deleted_at is not None:
        raise ConflictError(f"dataset {dataset.name} v{dataset.version} is deleted; it cannot be exported")
    exporter = exporter_for(fmt)
    store = as_store(where)
    export_dir = store.local_dir  # where the files are written: the store itself on local disk
    await asyncio.to_thread(export_dir.mkdir, parents=True, exist_ok=True)
    if job_id is not None:
        await remove_earlier_attempts(pool, store, dataset, fmt, job_id)
    splits: list[Split | None] = [None] if dataset.validation_count == 0 else [Split.TRAIN, Split.VALIDATION]
    files: dict[Split, OutputFile] = {}
    written: list[Path] = []
    stored: list[str] = []
    try:
        for split in splits:
            file = open_output(export_dir, file_stem(dataset, fmt, split), split, job_id)
            written.append(file.temp)
            for member in [Split.TRAIN, Split.VALIDATION] if split is None else [split]:
                files[member] = file
        tally = Tally()
        await _stream(pool, dataset, Writer(exporter, files, tally), run)
        await run.check_cancelled()
        unique = list({id(f): f for f in files.values()}.values())
        for file in unique:
            file.handle.flush()
            os.fsync(file.handle.fileno())
            file.handle.close()
        if store.shared:
            size = sum(f.size for f in unique)
            await run.progress(0.99, f"storing {len(unique)} files ({size:,} bytes) in {store.describe()}")
        for file in unique:
            # Local disk: the rename that makes it complete. Object storage: an upload, whole or not at all; the
            # temporary file stays until the files are recorded (see stored.remove_earlier_attempts).
            stored.append(file.final.name)
            await store.put_file(file.final.name, file.temp, media_type=MEDIA_TYPE, name=file.final.name)
        recorded = await _record(pool, store, dataset, fmt, job_id, unique)
    except BaseException:
        for file in files.values():
            file.handle.close()
        for path in written:
            path.unlink(missing_ok=True)
        await forget(store, stored)
        raise
    for path in written:
        await asyncio.to_thread(path.unlink, missing_ok=True)
    await run.progress(1.0, f"exported {dataset.example_count:,} examples")
    return _result(dataset, fmt, recorded, tally, exporter)


async def _stream(pool: asyncpg.Pool, dataset: Dataset, writer: Writer, run: ExportRun) -> None:
    """Feed every frozen row, in example id order, through the writer: while one batch is rendered, the next is
    fetched and the tokens of up to IN_FLIGHT earlier ones are counted. Memory stays bounded by the batches."""
    progress = ExportProgress(dataset.example_count, run.progress)
    loop = asyncio.get_running_loop()
    counting: deque[tuple[Batch, asyncio.Future[list[int]]]] = deque()
    with (
        ThreadPoolExecutor(1, thread_name_prefix="export-render") as renderer,
        token_counter(dataset.example_count) as counter,
    ):
        async with pool.acquire() as conn, conn.transaction(readonly=True):
            cursor = await conn.cursor(writer.sql, dataset.id)
            pending = asyncio.ensure_future(cursor.fetch(BATCH))
            try:
                while rows := await pending:
                    pending = asyncio.ensure_future(cursor.fetch(BATCH))
                    await run.check_cancelled()
                    batch = await loop.run_in_executor(renderer, writer.render, rows)
                    del rows
                    count = loop.run_in_executor(counter, tokens.count_examples, batch.users, batch.assistants)
                    counting.append((batch, count))
                    if len(counting) > IN_FLIGHT:
                        counted, count = counting.popleft()
                        writer.add_counts(counted, await count)
                        await progress.add(counted=len(counted.ids))
                    await progress.add(written=len(batch.ids))
                await progress.counting_tokens()  # every line is written: the last batches' tokens remain
                while counting:
                    counted, count = counting.popleft()
                    writer.add_counts(counted, await count)
                    await progress.add(counted=len(counted.ids))
            finally:
                futures: list[asyncio.Future[Any]] = [pending, *(count for _, count in counting)]
                for future in futures:
                    future.cancel()
                await asyncio.gather(*futures, return_exceptions=True)


async def _record(
    pool: asyncpg.Pool,
    store: ArtifactStore,
    dataset: Dataset,
    fmt: ExportFormat,
    job_id: str | None,
    files: list[OutputFile],
) -> list[DatasetExport]:
    """Record the stored files; if this job's earlier run already did, drop ours and use those."""
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
        await store.delete([f.final.name for f in files])
        return await repo.exports_of_job(conn, job_id)


def _result(
    dataset: Dataset, fmt: ExportFormat, exports: list[DatasetExport], tally: Tally, exporter: Exporter
) -> ExportResult:
    warnings = []
    if dataset.example_count < MIN_EXAMPLES:
        warnings.append(f"only {dataset.example_count} examples: fine-tuning needs at least {MIN_EXAMPLES}")
    if dataset.validation_count == 0:
        warnings.append("no validation split: set validationFraction to measure over-fitting")
    elif dataset.validation_count < MIN_EXAMPLES:
        warnings.append(f"only {dataset.validation_count} validation examples")
    if tally.over_limit:
        warnings.append(f"{tally.over_limit} examples exceed the format's limit of {exporter.token_limit} tokens")
    files = [
        ExportedFile(
            id=str(e.id), split=e.split, line_count=e.line_count, size_bytes=e.size_bytes, sha256=e.sha256,
            download_url=e.download_path,
        )
        for e in exports
    ]  # fmt: skip
    tokens = ExportTokens(
        total=tally.tokens[Split.TRAIN] + tally.tokens[Split.VALIDATION], train=tally.tokens[Split.TRAIN],
        validation=tally.tokens[Split.VALIDATION], max_per_example=tally.max_tokens,
        limit_per_example=exporter.token_limit,
    )  # fmt: skip
    return ExportResult(
        dataset_id=str(dataset.id), format=fmt, exports=files, line_count=sum(e.line_count for e in exports),
        tokenizer=TOKENIZER, tokens=tokens, valid=tally.problem_count == 0, problem_count=tally.problem_count,
        problems=tally.problems, warnings=warnings,
    )  # fmt: skip


async def start_export(pool: asyncpg.Pool, dataset_id: str, fmt: ExportFormat, created_by: str) -> Job:
    """Start an EXPORT job for a version that exists and is not deleted."""
    dataset = await datasets.require(pool, dataset_id)
    if dataset.deleted_at is not None:
        raise ConflictError(f"dataset {dataset.name} v{dataset.version} is deleted; it cannot be exported")
    job_input = ExportInput(dataset_id=str(dataset.id), format=fmt)
    return await create_and_enqueue(pool, EXPORT_JOB, job_input, created_by=created_by)


async def run_export(run: JobRun[ExportInput, ExportResult]) -> ExportResult:
    """The EXPORT job's work: export_dataset into the configured directory, with the job's progress and stops.

    It resumes by starting over (files of a stopped run are removed; a version's files are recorded once).
    """
    dataset_id, fmt = int(run.input.dataset_id), run.input.format
    return await export_dataset(run.pool, export_store(run.settings), dataset_id, fmt, run, job_id=str(run.id))


async def training_files(
    pool: asyncpg.Pool, where: Where, dataset: Dataset, fmt: ExportFormat, run: ExportRun, job_id: str
) -> tuple[Path, Path | None]:
    """The version's (training, validation) files in the format, on this host; validation None for a version
    without a validation split (its one file is all training data). The newest complete set already written
    (from object storage: fetched once), else written now under `job_id` (a retry finds them recorded). Exporting
    now fails when a line breaks the format's rules (the provider would refuse the file)."""
    store = as_store(where)
    found = await _newest_files(pool, store, dataset, fmt)
    if found is not None:
        return _by_role(found)
    result = await export_dataset(pool, store, dataset.id, fmt, run, job_id)
    if not result.valid:
        first = result.problems[0]
        raise ValidationError(
            f"the {fmt.value} export of {dataset.name} v{dataset.version} has {result.problem_count} lines that "
            f"break the format's rules (line {first.line}: {first.problem})"
        )
    found = await _newest_files(pool, store, dataset, fmt)
    if found is None:
        raise NotFoundError(
            f"the {fmt.value} export of {dataset.name} v{dataset.version} has no files in {store.describe()}"
        )
    return _by_role(found)


def _by_role(files: dict[Split | None, Path]) -> tuple[Path, Path | None]:
    return (files[None], None) if None in files else (files[Split.TRAIN], files[Split.VALIDATION])


async def _newest_files(
    pool: asyncpg.Pool, store: ArtifactStore, dataset: Dataset, fmt: ExportFormat
) -> dict[Split | None, Path] | None:
    wanted: set[Split | None] = {None} if dataset.validation_count == 0 else {Split.TRAIN, Split.VALIDATION}
    sets: dict[str | None, dict[Split | None, str]] = {}
    for export in await repo.exports_of(pool, dataset.id):
        if export.format is fmt and plain(export.file_name):
            sets.setdefault(export.job_id, {})[export.split] = export.file_name
    for names in reversed(sets.values()):  # newest first
        if set(names) != wanted:
            continue
        paths = {split: await store.local_copy(name) for split, name in names.items()}
        if all(paths.values()):
            return {split: path for split, path in paths.items() if path is not None}
    return None
