"""Importing a JSONL file of examples: store it, start the IMPORT job, and the job's work (all or nothing)."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any, BinaryIO

import asyncpg

from tuneyard.core.db import Connection
from tuneyard.core.errors import ValidationError
from tuneyard.examples.imports import repository as repo
from tuneyard.examples.imports.models import IMPORT_JOB, ImportInput, ImportResult, line_row
from tuneyard.examples.problems import MAX_PROBLEMS, Problem
from tuneyard.jobs.models import Job
from tuneyard.jobs.service import JobCancelled, JobFailed, JobRun, create_and_enqueue

__all__ = ["IMPORT_JOB", "ImportResult", "import_file", "incoming", "start_import"]

CHUNK_LINES = 5_000  # lines checked (in a thread) and inserted at a time; each chunk is a stop point
MAX_NAME = 255  # the file's name, shown in the job's messages
MAX_LINE_BYTES = 2 * 1024 * 1024  # a line holds one example: its JSON fields are at most 256 KiB each


def imports_dir(home: Path) -> Path:
    """Where files wait for their IMPORT job: the home's data folder, shared with the workers like exports."""
    return home / "imports"


@contextlib.asynccontextmanager
async def incoming(home: Path) -> AsyncIterator[tuple[Path, BinaryIO]]:
    """A new file under the imports folder, open for writing, removed unless an import is started with it."""
    folder = await asyncio.to_thread(imports_dir(home).resolve)  # workers may run in another folder
    await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True, mode=0o700)
    path = folder / f"{uuid.uuid4().hex}.jsonl"
    try:
        with path.open("xb") as file:
            yield path, file
    except BaseException:
        path.unlink(missing_ok=True)
        raise


async def start_import(pool: asyncpg.Pool, path: Path, name: str, created_by: str) -> Job:
    """Start the IMPORT job of a stored file (see `incoming`); the file is removed if it cannot be started."""
    try:
        if not name.strip() or len(name) > MAX_NAME or "\x00" in name:
            raise ValidationError(f"name: must be 1..{MAX_NAME} characters, not blank, without NUL")
        return await create_and_enqueue(pool, IMPORT_JOB, ImportInput(path=str(path), name=name), created_by=created_by)
    except BaseException:
        await asyncio.to_thread(path.unlink, missing_ok=True)
        raise


def _next_chunk(file: BinaryIO, first: int) -> tuple[int, int, list[tuple[Any, ...]], list[Problem]]:
    """Read up to CHUNK_LINES lines: how many, their bytes, rows of the valid ones (line number first) and the
    problems of the others; blank lines are skipped."""
    lines = list(islice(file, CHUNK_LINES))
    rows: list[tuple[Any, ...]] = []
    problems: list[Problem] = []
    for number, text in enumerate(lines, first):
        if len(text) > MAX_LINE_BYTES:
            problems.append(Problem(number, "line", f"longer than {MAX_LINE_BYTES:,} bytes"))
            continue
        if not text.strip():
            continue
        row, found = line_row(text, number)
        if row is None:
            problems += found
        else:
            rows.append((number, *row))
    return len(lines), sum(map(len, lines)), rows, problems


def _summary(problems: list[Problem], count: int) -> str:
    """The job's error: the first problem, and how many more the result lists."""
    first = problems[0]
    more = f" (and {count - 1} more: see the job's result)" if count > 1 else ""
    return f"nothing imported: line {first.index}: {first.field}: {first.reason}{more}"


@dataclass
class _Counts:
    """How far an import got through its file."""

    lines: int = 0
    bytes: int = 0
    staged: int = 0  # non-blank lines, sent to the database while no line was refused
    inserted: int = 0


async def _write_chunks(run: JobRun[ImportInput, ImportResult], conn: Connection, file: BinaryIO, size: int) -> _Counts:
    """Check every line (in a thread) and insert each chunk of valid ones while the next is checked, until a line
    is refused: then only check the rest, to report its problems. Progress by bytes read, up to 90%."""
    counts, problems, problem_count = _Counts(), list[Problem](), 0
    reading = asyncio.ensure_future(asyncio.to_thread(_next_chunk, file, 1))
    writing: asyncio.Future[int] | None = None
    try:
        while True:
            read, length, rows, found = await reading
            if not read:
                break
            counts.lines, counts.bytes = counts.lines + read, counts.bytes + length
            reading = asyncio.ensure_future(asyncio.to_thread(_next_chunk, file, counts.lines + 1))
            problems += found[: MAX_PROBLEMS - len(problems)]
            problem_count += len(found)
            run.result = ImportResult(lines=counts.lines, problems=[p.to_json("line") for p in problems],
                                      problem_count=problem_count)  # fmt: skip
            if writing is not None:
                counts.inserted += await writing
                writing = None
            await run.check_cancelled()
            if rows and not problem_count:
                writing = asyncio.ensure_future(repo.insert_chunk(conn, rows))
                counts.staged += len(rows)
            await run.progress(
                0.9 * min(counts.bytes / size, 1.0), f"checked {counts.lines:,} lines of {run.input.name}"
            )
        if writing is not None:
            counts.inserted += await writing
            writing = None
    finally:  # a stop point raised: let the thread and the statement in flight end before the transaction does
        await asyncio.gather(reading, *([writing] if writing else []), return_exceptions=True)
    return counts


async def _import(run: JobRun[ImportInput, ImportResult]) -> ImportResult:
    """Write the whole file in one transaction, or raise JobFailed with its problems (and write nothing)."""
    run.result = ImportResult()
    path = Path(run.input.path)
    size = max((await asyncio.to_thread(path.stat)).st_size, 1)
    file = await asyncio.to_thread(path.open, "rb")
    async with run.pool.acquire() as conn, conn.transaction():
        await repo.stage(conn)
        with file:
            counts = await _write_chunks(run, conn, file, size)
        result = run.result
        problems = [Problem(p["line"], p["field"], p["message"]) for p in result.problems]
        if not result.problem_count:
            for execution_id, lines in await repo.duplicates(conn, MAX_PROBLEMS):
                also = ", ".join(str(n) for n in lines[1:])
                problems.append(Problem(lines[0], "executionId", f"{execution_id!r} appears again at line(s) {also}"))
            result = run.result = result.model_copy(
                update={"problems": [p.to_json("line") for p in problems], "problem_count": len(problems)}
            )
        if result.problem_count:
            raise JobFailed(_summary(problems, result.problem_count))  # the transaction rolls back every chunk
        await run.check_cancelled()
        await run.progress(0.9, f"tagging the {counts.inserted:,} new examples, then committing")
        with run.not_resumable():
            await repo.tag(conn)
    return result.model_copy(
        update={"inserted": counts.inserted, "skipped": counts.staged - counts.inserted, "complete": True}
    )


async def import_file(run: JobRun[ImportInput, ImportResult]) -> ImportResult:
    """Check every line with recordExamples' rules, then insert the new examples in one transaction: all of the
    file or, at the first refused line (up to MAX_PROBLEMS reported with their line numbers), none of it.

    The file is removed once the job ends (imported, refused or cancelled); a retried run starts over, which
    changes nothing twice since existing executionIds are skipped.
    """
    path = Path(run.input.path)
    try:
        result = await _import(run)
    except (JobCancelled, JobFailed):
        await asyncio.to_thread(path.unlink, missing_ok=True)
        raise
    await asyncio.to_thread(path.unlink, missing_ok=True)
    return result
