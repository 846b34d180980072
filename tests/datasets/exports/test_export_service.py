"""The export service on real PostgreSQL: immutable, byte-identical files, validation, tokens, cancellation."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import asyncpg
import orjson
import pytest

from bench.data import examples as generate
from tests.support.datasets import load, new_examples
from tuneyard.core.errors import ConflictError
from tuneyard.curation import service as curation
from tuneyard.datasets import service as service
from tuneyard.datasets.exports import service as exports
from tuneyard.datasets.exports import writer
from tuneyard.datasets.exports.formats import EXPORTERS
from tuneyard.datasets.exports.formats.tokens import TOKENIZER, TokenCounter
from tuneyard.datasets.models import ExportFormat, NewDataset
from tuneyard.examples import service as examples_service


def files_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def new(name: str, where: dict[str, Any], fraction: float = 0.0) -> NewDataset:
    return NewDataset(name=name, description=None, filter=where, validation_fraction=fraction, seed=1)


async def test_old_version_exports_byte_identical_after_its_examples_change(pool: asyncpg.Pool, tmp_path: Path) -> None:
    await load(pool, 300)
    v1 = await service.create(pool, new("frozen", {}, 0.2))
    first = {fmt: (await exports.export_dataset(pool, tmp_path, v1.id, fmt)).to_json() for fmt in ExportFormat}
    # Re-record every example with new content, re-tag and archive them all.
    changed = [{**r, "userRequest": "rewritten " + r["userRequest"], "qualityScore": 0.01, "executionPlan": {"x": 1}}
               for r in generate(300, seed=5, prefix="ds")]  # fmt: skip
    for i in range(0, 300, 100):
        await examples_service.record(pool, new_examples(changed[i : i + 100]))
    await curation.tag_examples(pool, {}, ["retagged"], ["good"], None)
    assert await curation.archive(pool, {}) == 300
    again = {fmt: (await exports.export_dataset(pool, tmp_path, v1.id, fmt)).to_json() for fmt in ExportFormat}
    for fmt in ExportFormat:
        assert [e["sha256"] for e in again[fmt]["exports"]] == [e["sha256"] for e in first[fmt]["exports"]], fmt
        for before, after in zip(first[fmt]["exports"], again[fmt]["exports"], strict=True):
            old, new_file = (
                await exports.export_file(pool, tmp_path, before["id"]),
                await exports.export_file(pool, tmp_path, after["id"]),
            )
            assert old is not None and new_file is not None and old[1] != new_file[1]
            assert old[1].read_bytes() == new_file[1].read_bytes()
            assert hashlib.sha256(old[1].read_bytes()).hexdigest() == before["sha256"]
    assert (await service.require(pool, str(v1.id))).content_hash == v1.content_hash
    raw = await exports.export_file(pool, tmp_path, first[ExportFormat.RAW]["exports"][0]["id"])
    assert raw is not None
    lines = [orjson.loads(line) for line in raw[1].read_bytes().splitlines()]
    assert not any("rewritten" in r["userRequest"] or "retagged" in r["tags"] for r in lines)


async def test_result_reports_files_tokens_problems_and_warnings(pool: asyncpg.Pool, tmp_path: Path) -> None:
    await load(pool, 120)
    await pool.execute("UPDATE examples SET execution_plan = NULL WHERE id IN (3, 50)")  # no assistant turn
    version = await service.create(pool, new("report", {}, 0.25))
    result = (await exports.export_dataset(pool, tmp_path, version.id, ExportFormat.OPENAI_CHAT)).to_json()
    assert [e["split"] for e in result["exports"]] == ["TRAIN", "VALIDATION"]
    assert [e["lineCount"] for e in result["exports"]] == [version.train_count, version.validation_count]
    assert result["tokenizer"] == TOKENIZER
    tokens = result["tokens"]
    assert tokens["total"] == tokens["train"] + tokens["validation"] > 0
    assert 0 < tokens["maxPerExample"] < tokens["total"] and tokens["limitPerExample"] == 65_536
    assert result["problemCount"] == 2 and not result["valid"]
    assert {p["exampleId"] for p in result["problems"]} == {"3", "50"}
    for problem in result["problems"]:
        found = await exports.export_file(pool, tmp_path, next(
            e["id"] for e in result["exports"] if e["split"] == problem["split"]))  # fmt: skip
        assert found is not None
        line = found[1].read_bytes().splitlines()[problem["line"] - 1]
        assert EXPORTERS[ExportFormat.OPENAI_CHAT].validate_line(line), "the line named is the bad one"
    assert result["warnings"] == []

    small = await service.create(pool, new("small", {"ids": ["1", "2", "4"]}))
    result = (await exports.export_dataset(pool, tmp_path, small.id, ExportFormat.ANTHROPIC_BEDROCK)).to_json()
    assert [e["split"] for e in result["exports"]] == [None] and result["valid"]
    assert any("at least 10" in w for w in result["warnings"])
    assert any("no validation split" in w for w in result["warnings"])


class CancelAfter:
    """A run that is cancelled at its n-th checkpoint."""

    def __init__(self, checkpoints: int) -> None:
        self.left = checkpoints
        self.reported: list[float] = []

    async def progress(self, fraction: float, message: str | None = None) -> None:
        self.reported.append(fraction)

    async def check_cancelled(self) -> None:
        self.left -= 1
        if self.left < 0:
            raise RuntimeError("cancelled")


async def test_cancelling_mid_export_leaves_no_file(
    pool: asyncpg.Pool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    await load(pool, 500)
    version = await service.create(pool, new("cancel", {}, 0.2))
    monkeypatch.setattr(exports, "BATCH", 50)
    for checkpoints in (0, 3, 10):
        with pytest.raises(RuntimeError, match="cancelled"):
            (
                await exports.export_dataset(pool, tmp_path, version.id, ExportFormat.RAW, CancelAfter(checkpoints))
            ).to_json()
        assert files_in(tmp_path) == []
    assert await pool.fetchval("SELECT count(*) FROM dataset_exports") == 0
    run = CancelAfter(1000)
    result = (await exports.export_dataset(pool, tmp_path, version.id, ExportFormat.RAW, run)).to_json()
    assert len(files_in(tmp_path)) == 2 and result["lineCount"] == 500
    assert run.reported[-1] == 1.0


class Reports:
    """A run that keeps every progress report."""

    def __init__(self) -> None:
        self.reported: list[tuple[float, str | None]] = []

    async def progress(self, fraction: float, message: str | None = None) -> None:
        self.reported.append((fraction, message))

    async def check_cancelled(self) -> None:
        return None


async def test_counting_the_last_tokens_is_reported_as_its_own_phase(
    pool: asyncpg.Pool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Tokens are counted a few batches behind the writing: once every line is written, the job says it is counting
    tokens, and its fraction (examples whose tokens are counted) moves on to the end instead of standing still."""
    await load(pool, 500)
    version = await service.create(pool, new("phases", {}))
    monkeypatch.setattr(exports, "BATCH", 50)
    run = Reports()
    await exports.export_dataset(pool, tmp_path, version.id, ExportFormat.OPENAI_CHAT, run)
    fractions = [fraction for fraction, _ in run.reported]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    phase = [i for i, (_, message) in enumerate(run.reported) if (message or "").startswith("counting tokens: ")]
    assert phase, run.reported
    counted = int(run.reported[phase[0]][1].split()[2].replace(",", ""))  # type: ignore[union-attr]
    assert counted < 500 and run.reported[phase[0]][1].endswith("of 500 examples (every line is written)")


async def test_a_job_run_twice_records_its_files_once(pool: asyncpg.Pool, tmp_path: Path) -> None:
    await load(pool, 50)
    version = await service.create(pool, new("twice", {}))
    first = (await exports.export_dataset(pool, tmp_path, version.id, ExportFormat.SHAREGPT, job_id="77")).to_json()
    second = (await exports.export_dataset(pool, tmp_path, version.id, ExportFormat.SHAREGPT, job_id="77")).to_json()
    assert first["exports"] == second["exports"]
    assert len(files_in(tmp_path)) == 1


async def test_a_deleted_version_cannot_be_exported(pool: asyncpg.Pool, tmp_path: Path) -> None:
    await load(pool, 20)
    version = await service.create(pool, new("gone", {}))
    await exports.export_dataset(pool, tmp_path, version.id, ExportFormat.ALPACA)
    await service.delete(pool, str(version.id))
    with pytest.raises(ConflictError, match="deleted"):
        await exports.export_dataset(pool, tmp_path, version.id, ExportFormat.ALPACA)
    assert len(await exports.exports_of(pool, version.id)) == 1, "its files stay"
    assert await exports.export_file(pool, tmp_path, "../../etc/passwd") is None


async def test_counting_in_processes_gives_the_same_files_and_tokens(
    pool: asyncpg.Pool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    await load(pool, 300)
    await pool.execute("UPDATE examples SET execution_plan = NULL WHERE id = 7")
    version = await service.create(pool, new("processes", {}, 0.2))
    monkeypatch.setattr(exports, "BATCH", 40)
    in_thread = {f: (await exports.export_dataset(pool, tmp_path, version.id, f)).to_json() for f in ExportFormat}
    monkeypatch.setattr(writer, "COUNT_IN_PROCESS", 0)
    for fmt in ExportFormat:
        in_process = (await exports.export_dataset(pool, tmp_path, version.id, fmt)).to_json()
        assert [e["sha256"] for e in in_process["exports"]] == [e["sha256"] for e in in_thread[fmt]["exports"]]
        for key in ("tokens", "problems", "problemCount", "lineCount"):
            assert in_process[key] == in_thread[fmt][key], (fmt, key)
    assert in_thread[ExportFormat.OPENAI_CHAT]["problemCount"] == 1


async def test_examples_over_the_token_limit_are_problems_at_their_lines(
    pool: asyncpg.Pool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    await load(pool, 60)
    version = await service.create(pool, new("limit", {}, 0.3))
    exporter = EXPORTERS[ExportFormat.OPENAI_CHAT]
    monkeypatch.setattr(type(exporter), "token_limit", 60)
    result = (await exports.export_dataset(pool, tmp_path, version.id, ExportFormat.OPENAI_CHAT)).to_json()
    assert result["tokens"]["maxPerExample"] > 60 and result["problemCount"] > 0
    assert any("limit of 60" in w for w in result["warnings"])
    for problem in result["problems"]:
        found = await exports.export_file(pool, tmp_path, next(
            e["id"] for e in result["exports"] if e["split"] == problem["split"]))  # fmt: skip
        assert found is not None
        messages = orjson.loads(found[1].read_bytes().splitlines()[problem["line"] - 1])["messages"]
        tokens = int(problem["problem"].split()[0])
        assert tokens > 60 and TokenCounter().examples([messages[1]["content"]], [messages[2]["content"]]) == [tokens]
