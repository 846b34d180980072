"""Mutation run over the core logic: how many deliberate small bugs the tests catch, per area and per file.

    .venv/bin/python -m bench.mutate [AREA ...] [--limit N] [--workers N] [--json FILE]

Each mutant (bench/mutants.py) is written into a private copy of `tuneyard/`, `tests/` and `bench/` (the
working tree is never touched), and that area's tests run there with `-x` and a timeout, in a process of their
own: the servers they start import the mutated copy too. A failing or timed-out run kills the mutant. Mutants
listed in EQUIVALENT change nothing a user can observe and are left out of the score. About `--limit`
mutants per area are run, shared by its files in proportion to their mutants, the same ones every time (the
smallest hashes of their keys), so scores compare.
Uses TUNEYARD_TEST_DATABASE_URL / TUNEYARD_TEST_REDIS_URL like the tests (defaults: the local servers).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from queue import Queue

from bench.mutants import Mutant, apply, mutants
from bench.mutation_targets import AREAS, EQUIVALENT, Target

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Outcome:
    """What one mutant's test run did: killed (a test failed or it ran out of time) or survived."""

    mutant: Mutant
    killed: bool
    seconds: float
    how: str


@dataclass
class Copy:
    """A private tree the tests of one worker run in."""

    root: Path
    basetemp: Path
    originals: dict[str, str] = field(default_factory=dict)


def _make_copy(number: int, tests_at: str | None) -> Copy:
    """A private copy of the tree for one worker, compiled once (a mutated module's cache is dropped per mutant)."""
    root = Path(tempfile.mkdtemp(prefix=f"tuneyard-mutate-{number}-"))
    for name in ("tuneyard", "tests", "bench"):
        if name == "tests" and tests_at:  # the tests as a commit had them: a score "before" new tests
            archive = subprocess.run(["git", "archive", tests_at, "tests"], cwd=ROOT, capture_output=True, check=True)
            subprocess.run(["tar", "-x", "-C", str(root)], input=archive.stdout, check=True)
            continue
        shutil.copytree(ROOT / name, root / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    shutil.copy(ROOT / "pyproject.toml", root / "pyproject.toml")
    subprocess.run([sys.executable, "-m", "compileall", "-q", "tuneyard", "tests", "bench"], cwd=root, check=False)
    return Copy(root, root / ".basetemp")


def _env(copy: Copy) -> dict[str, str]:
    """The tests' environment: the copy first on the path, no bytecode written (a mutant must never be cached)."""
    env = dict(os.environ)
    env.setdefault("TUNEYARD_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    env.setdefault("TUNEYARD_TEST_REDIS_URL", "redis://127.0.0.1:6379/2")
    env.update(PYTHONPATH=str(copy.root), PYTHONDONTWRITEBYTECODE="1", PYTEST_ADDOPTS="")
    return env


_RUNNING: set[subprocess.Popen[str]] = set()  # test runs in progress: killed with their servers on SIGTERM
_STOPPING: list[bool] = []  # set once SIGTERM came: queued mutants are then skipped


def _stop(*_: object) -> None:
    """Stop the test runs in progress (each in a session of its own) and leave through the clean-up."""
    _STOPPING.append(True)
    for process in list(_RUNNING):
        os.killpg(process.pid, signal.SIGKILL)
    raise KeyboardInterrupt


def _pytest(copy: Copy, tests: list[str], timeout: float) -> tuple[int | None, float, str]:
    """(exit status or None when it ran out of time, seconds, the tail of its output)."""
    started = time.monotonic()
    command = ["nice", "-n", "10", sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider",
               f"--basetemp={copy.basetemp}", *tests]  # fmt: skip
    process = subprocess.Popen(
        command, cwd=copy.root, env=_env(copy), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,  # its servers and workers die with it on a timeout
    )  # fmt: skip
    _RUNNING.add(process)
    try:
        output, _ = process.communicate(timeout=timeout)
        code: int | None = process.returncode
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate()
        code = None
    finally:
        _RUNNING.discard(process)
    return code, time.monotonic() - started, output[-2000:]


def _run_mutant(
    copies: Queue[Copy], target: Target, source: str, mutant: Mutant, tests: list[str], timeout: float
) -> Outcome:
    """Write the mutant into a free copy, run the tests there, put the module back."""
    if _STOPPING:
        return Outcome(mutant, False, 0.0, "not run: stopped")
    copy = copies.get()
    path = copy.root / target.path
    try:
        path.write_text(apply(source, target.path, mutant, target.only))
        for cached in (path.parent / "__pycache__").glob(f"{path.stem}.*.pyc"):
            cached.unlink()
        code, seconds, output = _pytest(copy, tests, timeout)
    finally:
        path.write_text(source)
        copies.put(copy)
    if code is None:
        return Outcome(mutant, True, seconds, "timeout")
    lines = [line for line in output.splitlines() if line.startswith(("FAILED", "ERROR"))]
    return Outcome(mutant, code != 0, seconds, lines[0][:160] if lines else f"exit {code}")


def _sample(found: list[Mutant], limit: int) -> list[Mutant]:
    """The same `limit` mutants every run: those whose keys hash lowest, in file order."""
    ranked = sorted(found, key=lambda m: hashlib.sha1(m.key.encode()).hexdigest())
    return sorted(ranked[:limit], key=lambda m: m.index)


def main() -> None:
    """Score the areas named on the command line (all by default) and print the table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("areas", nargs="*", help=f"areas to run (default: all): {', '.join(AREAS)}")
    parser.add_argument("--limit", type=int, default=40, help="mutants per area, about (default 40)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--json", type=Path, help="write every outcome here")
    parser.add_argument(
        "--tests-at", metavar="COMMIT", help="run the tests of this commit instead of the working tree's"
    )
    args = parser.parse_args()
    names = args.areas or list(AREAS)
    if unknown := set(names) - set(AREAS):
        parser.error(f"unknown area(s): {', '.join(sorted(unknown))}")
    signal.signal(signal.SIGTERM, _stop)
    copies: Queue[Copy] = Queue()
    made = [_make_copy(i, args.tests_at) for i in range(args.workers)]
    for copy in made:
        copies.put(copy)
    started = time.monotonic()
    table: list[tuple[str, int, int, int]] = []
    records = []
    try:
        with ThreadPoolExecutor(args.workers) as pool:
            for name in names:
                area = AREAS[name]
                tests = [t for t in area.tests if (made[0].root / t).exists()]
                copy = copies.get()
                code, baseline, output = _pytest(copy, tests, 900)
                copies.put(copy)
                if code != 0:
                    print(f"{name}: its tests fail without any mutant; not scored\n{output}", flush=True)
                    continue
                timeout = max(60.0, 4 * baseline)
                print(f"== {name}: {', '.join(tests)} ({baseline:.0f} s unmutated)", flush=True)
                area_killed = area_total = area_equivalent = 0
                sources = {t.path: (made[0].root / t.path).read_text() for t in area.targets}
                everything = {t.path: mutants(sources[t.path], t.path, t.only) for t in area.targets}
                total = sum(len(found) for found in everything.values())
                for target in area.targets:
                    source, found = sources[target.path], everything[target.path]
                    # The area's sample shared by its files in proportion to their mutants, a few at least.
                    chosen = _sample(found, max(3, math.ceil(args.limit * len(found) / total)))
                    futures = [
                        pool.submit(_run_mutant, copies, target, source, m, tests, timeout)
                        for m in chosen if m.key not in EQUIVALENT
                    ]  # fmt: skip
                    outcomes = [f.result() for f in futures]
                    equivalent = len(chosen) - len(outcomes)
                    killed = sum(o.killed for o in outcomes)
                    score = 100 * killed / len(outcomes) if outcomes else 100.0
                    print(f"  {target.path}: {killed}/{len(outcomes)} killed ({score:.0f}%), {equivalent} equivalent, "
                          f"{len(chosen)} of {len(found)} mutants run", flush=True)  # fmt: skip
                    for o in outcomes:
                        if not o.killed:
                            print(
                                f"    SURVIVED {o.mutant.path}:{o.mutant.line} {o.mutant.function}: {o.mutant.change}"
                            )
                        records.append({"area": name, "key": o.mutant.key, "line": o.mutant.line, "killed": o.killed,
                                        "seconds": round(o.seconds, 1), "how": o.how})  # fmt: skip
                    area_killed, area_total = area_killed + killed, area_total + len(outcomes)
                    area_equivalent += equivalent
                table.append((name, area_killed, area_total, area_equivalent))
    finally:
        for copy in made:
            shutil.rmtree(copy.root, ignore_errors=True)
    print("\n| area | killed | score | equivalent |\n|---|---|---|---|")
    for name, killed, total, equivalent in table:
        print(f"| {name} | {killed}/{total} | {100 * killed / max(total, 1):.0f}% | {equivalent} |")
    print(f"\n{(time.monotonic() - started) / 60:.1f} minutes")
    if args.json:
        args.json.write_text(json.dumps(records, indent=1))


if __name__ == "__main__":
    main()
