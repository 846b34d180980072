"""Writing an export: output files written under a temporary name, rendered batches, and what the run found.

A `Writer` renders, validates and writes batches of frozen rows in a thread; the tokens of each batch are
counted elsewhere (`token_counter`) and added to the `Tally` as they arrive.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import re
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from tuneyard.datasets.exports import repository as repo
from tuneyard.datasets.exports.formats import tokens, training_text
from tuneyard.datasets.exports.formats.base import Exporter, user_text
from tuneyard.datasets.exports.models import ExportProblem
from tuneyard.datasets.exports.parts import part_name
from tuneyard.datasets.models import Dataset, ExportFormat, FrozenExample, Split

COUNT_IN_PROCESS = 50_000  # examples; fewer are counted in a thread (starting processes costs ~0.2-0.5 s)
COUNTERS = 2  # token-counting processes (about 85 MB each): counting is most of an export's CPU time
MAX_LISTED_PROBLEMS = 1000
PROGRESS_EVERY = 0.5  # seconds between progress reports


@dataclass
class OutputFile:
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
class Tally:
    """What the validator and the tokenizer found, across the run."""

    problems: list[ExportProblem] = field(default_factory=list)
    problem_count: int = 0
    tokens: dict[Split, int] = field(default_factory=lambda: {Split.TRAIN: 0, Split.VALIDATION: 0})
    max_tokens: int = 0
    over_limit: int = 0

    def problem(self, file: OutputFile, line: int, example_id: int, message: str) -> None:
        self.problem_count += 1
        if len(self.problems) < MAX_LISTED_PROBLEMS:
            self.problems.append(
                ExportProblem(split=file.split, line=line, example_id=str(example_id), problem=message)
            )


def file_stem(dataset: Dataset, fmt: ExportFormat, split: Split | None) -> str:
    """A readable, safe file name stem: name-v3-openai_chat[-train]."""
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", dataset.name).strip("-.") or "dataset"
    suffix = "" if split is None else f"-{split.value.lower()}"
    return f"{slug[:80]}-v{dataset.version}-{fmt.value.lower()}{suffix}"


def final_name(stem: str, tag: str) -> str:
    """The name of a complete file: its stem and the tag of its temporary file."""
    return f"{stem}-{tag}.jsonl"


def open_output(export_dir: Path, stem: str, split: Split | None, job_id: str | None = None) -> OutputFile:
    """A new temporary file (hidden, never served; named after its job) and the name it gets when complete."""
    tag = uuid.uuid4().hex[:12]
    temp = export_dir / part_name(job_id, tag)
    return OutputFile(split, temp, export_dir / final_name(stem, tag), open(temp, "xb"))


def _frozen(row: Any) -> FrozenExample:
    values = dict(row.items())
    values["split"] = Split(values["split"])
    return FrozenExample(**values)


@dataclass(slots=True)
class Batch:
    """A rendered batch, waiting for its token counts: per example its file, line number, id and texts."""

    files: list[OutputFile]
    lines: list[int]
    ids: list[int]
    users: list[str]
    assistants: list[str]


class Writer:
    """Renders, validates and writes batches of rows (in a thread), keeping the texts whose tokens are counted.

    A text-only format (Exporter.text_only) is rendered from its frame and the rows of STREAM_TEXT_SQL: no
    record, no FrozenExample, and a line is checked in full only when one of its texts is not is_text.
    """

    def __init__(self, exporter: Exporter, files: dict[Split, OutputFile], tally: Tally) -> None:
        self.exporter = exporter
        self.files = files
        self.tally = tally
        self.sql = repo.STREAM_TEXT_SQL if exporter.text_only else repo.STREAM_SQL
        self.render = self._render_texts if exporter.text_only else self._render_records

    def _render_texts(self, rows: Sequence[Any]) -> Batch:
        exporter, tally, dumps = self.exporter, self.tally, orjson.dumps
        head, middle, tail = exporter.frame
        files = {split.value: file for split, file in self.files.items()}
        batch = Batch([], [], [], [], [])
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

    def _render_records(self, rows: Sequence[Any]) -> Batch:
        exporter, tally = self.exporter, self.tally
        batch = Batch([], [], [], [], [])
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

    def add_counts(self, batch: Batch, counts: list[int]) -> None:
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


@dataclass
class ExportProgress:
    """What an export reports as it runs: examples written, and those whose tokens are counted (the last step of
    each, so the fraction). Counting trails writing by a few batches; once every line is written, the rest of the
    counting is reported as its own phase ("counting tokens") rather than as a fraction that stands still."""

    total: int
    report: Callable[[float, str], Awaitable[None]]
    written: int = 0
    counted: int = 0
    writing: bool = True
    last_report: float = field(default_factory=time.monotonic)

    async def add(self, *, written: int = 0, counted: int = 0) -> None:
        self.written += written
        self.counted += counted
        if time.monotonic() - self.last_report >= PROGRESS_EVERY:
            await self._send()

    async def counting_tokens(self) -> None:
        """Every line is written; the tokens of the last batches are still being counted."""
        self.writing = False
        await self._send()

    async def _send(self) -> None:
        self.last_report = time.monotonic()
        total = f"{self.total:,}"
        if self.writing:
            message = f"writing: {self.written:,} of {total} examples, tokens counted for {self.counted:,}"
        else:
            message = f"counting tokens: {self.counted:,} of {total} examples (every line is written)"
        await self.report(0.99 * self.counted / max(self.total, 1), message)


def token_counter(examples: int) -> Executor:
    """Where tokens are counted: a thread for a small export; from COUNT_IN_PROCESS examples on, a process of its
    own (tiktoken releases the GIL, but takes it back for every text, and rendering holds it most of the time)."""
    if examples < COUNT_IN_PROCESS:
        return ThreadPoolExecutor(1, thread_name_prefix="export-tokens")
    return ProcessPoolExecutor(COUNTERS, mp_context=multiprocessing.get_context("spawn"), initializer=tokens.warm)
