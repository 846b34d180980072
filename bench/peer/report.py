"""The bench's tables (ratios Tuneyard / PostGraphile against the targets, and the absolute figures) and the
section of bench/RESULTS.md that holds the latest of them."""

from __future__ import annotations

import hashlib
import json
import os
import statistics
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bench.peer.install import PeerInstall
from bench.peer.measure import Options, Results, Sample

RESULTS_FILE = Path(__file__).resolve().parent.parent / "RESULTS.md"
RESULTS_HEADER = """# Bench results

The latest figures of the benches that record them here, one section each; a bench's next run replaces its own
section and leaves the others.
"""
SECTION_START, SECTION_END = "<!-- bench.peer: start -->", "<!-- bench.peer: end -->"


@dataclass(frozen=True)
class Metric:
    label: str
    value: Callable[[Sample], float | None]
    target: float | None  # for the ratio Tuneyard / PostGraphile
    higher_is_better: bool = False

    def target_text(self) -> str:
        if self.target is None:
            return "none"
        return f"{'≥' if self.higher_is_better else '≤'} {self.target:g}"

    def met(self, ratio: float) -> bool:
        assert self.target is not None
        return ratio >= self.target if self.higher_is_better else ratio <= self.target


METRICS = [
    Metric("server CPU per request", lambda s: s.server_us, 0.5),
    Metric("req/s, 16 connections", lambda s: s.requests_per_s, 2.0, higher_is_better=True),
    Metric("p50 sequential", lambda s: s.p50_ms, 0.8),
    Metric("p99 sequential", lambda s: s.p99_ms, 1.0),
    Metric("database CPU per request", lambda s: s.database_us, None),
]


def ratio_table(results: Results, tuneyard: str, peer: str) -> str:
    """Per metric and query: the median (min..max) over rounds of the ratio, and whether the target is met."""
    labels = list(results.samples)
    lines = [
        f"| ratio {tuneyard} / {peer} | target | {' | '.join(labels)} |",
        f"|---|---|{'---|' * len(labels)}",
    ]
    for metric in METRICS:
        cells = []
        for label in labels:
            rounds = zip(results.samples[label][tuneyard], results.samples[label][peer], strict=True)
            values = [(metric.value(ours), metric.value(theirs)) for ours, theirs in rounds]
            ratios = [ours / theirs for ours, theirs in values if ours is not None and theirs]  # none where 0 or absent
            if not ratios:
                cells.append("n/a")
                continue
            middle = statistics.median(ratios)
            verdict = "" if metric.target is None else (" met" if metric.met(middle) else " **not met**")
            cells.append(f"{middle:.2f} ({min(ratios):.2f}..{max(ratios):.2f}){verdict}")
        lines.append(f"| {metric.label} | {metric.target_text()} | {' | '.join(cells)} |")
    return "\n".join(lines)


def absolute_table(results: Results) -> str:
    """Medians over rounds, per query and server."""
    lines = [
        "| query | server | server CPU/request | database CPU/request | req/s | p50 | p99 | server's core "
        "| load generator's core |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for label, by_server in results.samples.items():
        for server, samples in by_server.items():
            database = [s.database_us for s in samples if s.database_us is not None]
            cells = [
                label, server, f"{_median(samples, lambda s: s.server_us):.0f} µs",
                f"{statistics.median(database):.0f} µs" if database else "n/a",
                f"{_median(samples, lambda s: s.requests_per_s):.0f}", f"{_median(samples, lambda s: s.p50_ms):.2f} ms",
                f"{_median(samples, lambda s: s.p99_ms):.2f} ms",
                f"{_median(samples, lambda s: s.server_busy):.0%} busy",
                f"{_median(samples, lambda s: s.client_busy):.0%} busy",
            ]  # fmt: skip
            lines.append(f"| {' | '.join(cells)} |")
    return "\n".join(lines)


def _median(samples: list[Sample], value: Callable[[Sample], float]) -> float:
    return statistics.median(value(s) for s in samples)


def facts(install: PeerInstall, rows: int, options: Options, results: Results, cores: tuple[int, int]) -> list[str]:
    """What the figures depend on: versions, commit, date, machine load, data and the bench's settings."""
    node = subprocess.run([str(install.node), "--version"], capture_output=True, text=True, check=True).stdout.strip()
    loads = results.load_averages
    return [
        f"Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; Tuneyard {_commit()}",
        f"PostGraphile {_package_version(install, 'postgraphile')} (Amber preset) with "
        f"postgraphile-plugin-connection-filter {_package_version(install, 'postgraphile-plugin-connection-filter')}"
        f", on Node {node}",
        f"{rows:,} examples; {options.rounds} interleaved round{'s' if options.rounds != 1 else ''}; each phase: "
        f"up to {options.requests} sequential requests (at most {options.seconds:g} s), "
        f"then {options.seconds:g} s at {options.connections} keep-alive connections",
        f"Server pinned to core {cores[0]}, load generator to core {cores[1]}, PostgreSQL unpinned; "
        f"{os.cpu_count()} cores; load average (1 min) during the run {min(loads):.2f}..{max(loads):.2f}",
    ]


def _package_version(install: PeerInstall, name: str) -> str:
    package = json.loads((install.app / "node_modules" / name / "package.json").read_text())
    return str(package["version"])


def _commit() -> str:
    root = RESULTS_FILE.parent.parent

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=True).stdout.strip()

    commit = git("rev-parse", "--short", "HEAD")
    if not git("status", "--porcelain", "--", "tuneyard"):
        return f"commit {commit}"
    # The working tree's changes, named by a hash of their diff: two runs can tell whether they measured the same code.
    diff = hashlib.sha1(git("diff", "HEAD", "--", "tuneyard").encode()).hexdigest()[:8]
    return f"commit {commit} with uncommitted changes under tuneyard/ (diff sha1 {diff})"


def section(ratios: str, absolute: str, notes: list[str]) -> str:
    bullets = "\n".join(f"- {note}" for note in notes)
    return f"""{SECTION_START}
## Tuneyard beside PostGraphile 5 (`python -m bench.peer`)

{bullets}

Same database, same rows (checked before timing), the tag condition written so that both get one NOT EXISTS;
Tuneyard's `stats(filter) {{ count }}` against PostGraphile's `allExamples(filter) {{ totalCount }}` (Amber has no
aggregates; `@graphile/pg-aggregates` exists for PostGraphile 4 only). Both pools hold up to 10 connections
(Tuneyard's default, node-postgres's). A ratio is taken per round; shown: median (min..max) over rounds, the
target judged on the median. CPU per request is the steadiest figure on a shared machine; req/s and latency move
with its load. Database CPU covers each server's backends and their parallel workers.

{ratios}

Absolute figures, medians over rounds:

{absolute}
{SECTION_END}
"""


def write_section(text: str, path: Path = RESULTS_FILE) -> None:
    """Put the section in the results file: in place of the previous one, or after the others."""
    current = path.read_text() if path.exists() else RESULTS_HEADER
    if SECTION_START in current and SECTION_END in current:
        before, _, rest = current.partition(SECTION_START)
        after = rest.partition(SECTION_END)[2].lstrip("\n")
        updated = f"{before}{text}" + (f"\n{after}" if after else "")
    else:
        updated = f"{current.rstrip()}\n\n{text}"
    path.write_text(updated)
