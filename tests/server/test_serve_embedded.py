"""`tuneyard serve` on the embedded default: starts, answers, stops on SIGTERM leaving nothing, keeps data; its
bundled servers are restarted if they die, its home is private and taken by one serve at a time, SIGHUP stops it,
and a SIGKILL of it never keeps the bundled servers alive past the next clean stop."""

from __future__ import annotations

import os
import re
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import psutil
import pytest
import redis

from tests.support import GraphQLClient, free_port


def _processes_under(home: Path) -> list[str]:
    found = []
    for process in psutil.process_iter(["pid", "cmdline"]):
        cmdline = " ".join(process.info["cmdline"] or [])
        if str(home) in cmdline:
            found.append(f"{process.info['pid']}: {cmdline}")
    return found


def _start(home: Path, port: int) -> tuple[subprocess.Popen[str], list[str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUNEYARD_")}
    env["TUNEYARD_HOME"] = str(home)
    process = subprocess.Popen(
        [sys.executable, "-m", "tuneyard.cli", "serve", "--port", str(port)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    assert process.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            raise AssertionError(f"serve exited early: {lines}")
        lines.append(line.strip())
        if "/graphql" in line:
            return process, lines
    raise AssertionError(f"serve did not announce its URL: {lines}")


def _stop(process: subprocess.Popen[str]) -> None:
    process.send_signal(signal.SIGTERM)
    assert process.wait(60) == 128 + signal.SIGTERM


def _import(home: Path, folder: Path, lines: bytes) -> subprocess.CompletedProcess[str]:
    """`tuneyard import` of a JSONL file with nothing configured but the home."""
    file = folder / "runs.jsonl"
    file.write_bytes(lines)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUNEYARD_")}
    return subprocess.run(
        [sys.executable, "-m", "tuneyard.cli", "import", str(file)],
        env={**env, "TUNEYARD_HOME": str(home)}, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_embedded_serve_lifecycle(tmp_path: Path) -> None:
    home = tmp_path / "home"
    port = free_port()
    process, lines = _start(home, port)
    try:
        assert f"http://127.0.0.1:{port}/graphql" in lines[-1]
        token_lines = [line for line in lines if "admin token" in line]
        assert len(token_lines) == 1, lines
        token = re.search(r"(ty_\S+)", token_lines[0]).group(1)  # type: ignore[union-attr]
        assert httpx.get(f"http://127.0.0.1:{port}/healthz").json()["status"] == "ok"
        client = GraphQLClient(f"http://127.0.0.1:{port}", token)
        recorded = client.data(
            'mutation { recordExamples(examples: [{executionId: "e1", userRequest: "hello"}]) { inserted } }'
        )
        assert recorded == {"recordExamples": {"inserted": 1}}
        assert _processes_under(home), "the bundled servers should be running"
        # `tuneyard import` with only the home finds the running serve's bundled Redis; its workers run the job.
        imported = _import(home, tmp_path, b'{"executionId": "e2", "userRequest": "imported"}\n')
        assert imported.returncode == 0, imported.stderr
        assert client.data("{ examples { totalCount } }")["examples"]["totalCount"] == 2
    finally:
        _stop(process)
    time.sleep(0.5)
    assert _processes_under(home) == [], "SIGTERM must leave no bundled server behind"
    refused = _import(home, tmp_path, b'{"executionId": "e3", "userRequest": "no serve"}\n')
    assert refused.returncode == 2 and "no tuneyard serve is running" in refused.stderr, refused.stderr
    assert _processes_under(home) == [], "a refused import starts nothing"

    process, lines = _start(home, port)
    try:
        assert not any("admin token" in line for line in lines), "the admin token is printed on first start only"
        client = GraphQLClient(f"http://127.0.0.1:{port}", token)
        page = client.data('{ examples(filter: {executionId: {eq: "e1"}}) { totalCount nodes { executionId } } }')
        assert page["examples"] == {"totalCount": 1, "nodes": [{"executionId": "e1"}]}
    finally:
        _stop(process)
    time.sleep(0.5)
    assert _processes_under(home) == []


def _serve(home: Path, port: int, log: Path, *extra: str) -> subprocess.Popen[bytes]:
    """`tuneyard serve` on the bundled servers of `home`, its output appended to `log`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUNEYARD_")}
    env["TUNEYARD_HOME"] = str(home)
    with log.open("ab") as output:
        return subprocess.Popen(
            [sys.executable, "-m", "tuneyard.cli", "serve", "--port", str(port), *extra],
            env=env, stdout=output, stderr=subprocess.STDOUT,
        )  # fmt: skip


def _wait(check: Callable[[], object], what: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _healthy(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def _postmaster(home: Path) -> int:
    return int((home / "postgres" / "postmaster.pid").read_text().split("\n", 1)[0])


def _redis_pid(home: Path) -> int:
    return int((home / "redis" / "redis.pid").read_text())


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_bundled_servers_are_supervised_private_and_stopped(tmp_path: Path) -> None:
    home, port, log = tmp_path / "home", free_port(), tmp_path / "serve.log"
    first = _serve(home, port, log, "--workers", "0")
    try:
        _wait(lambda: _healthy(port), "serve to answer")
        assert f"using {home}" in log.read_text()

        # A second serve on the same home refuses at once and touches nothing.
        redis_pid, postgres_pid = _redis_pid(home), _postmaster(home)
        second = subprocess.run(
            [sys.executable, "-m", "tuneyard.cli", "serve", "--port", str(free_port())],
            env={**os.environ, "TUNEYARD_HOME": str(home)}, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert second.returncode == 1
        assert f"another tuneyard serve (pid {first.pid}) is using {home}" in second.stderr
        assert psutil.pid_exists(redis_pid) and _redis_pid(home) == redis_pid and _postmaster(home) == postgres_pid
        assert _healthy(port)

        # Owner-only files, and a Redis that wants its password.
        assert _mode(home) & 0o077 in (0, 0o011), oct(_mode(home))  # 0711 as root: pgserver's user passes through
        for private in (home / "redis", home / "postgres"):
            assert _mode(private) == 0o700, private
        for private in (home / "redis" / "password", home / "redis" / "redis.conf", home / "serve.lock"):
            assert _mode(private) == 0o600, private
        password = (home / "redis" / "password").read_text().strip()
        assert password not in " ".join(psutil.Process(redis_pid).cmdline())
        redis_port = int(re.search(r"^port (\d+)$", (home / "redis" / "redis.conf").read_text(), re.M).group(1))  # type: ignore[union-attr]
        with pytest.raises(redis.AuthenticationError):
            redis.Redis(port=redis_port).ping()

        # Either bundled server killed: serve starts it again and keeps serving.
        for name, pid_of in (("Redis", _redis_pid), ("PostgreSQL", _postmaster)):
            dead = pid_of(home)
            os.kill(dead, signal.SIGKILL)
            said = f"the bundled {name} stopped; restarted it"
            _wait(lambda: said in log.read_text(), f"{name} restarted", 60)  # noqa: B023 (called at once)
            assert pid_of(home) != dead
            _wait(lambda: _healthy(port), f"serve to answer after {name} was restarted", 30)
        assert log.read_text().count("restarted it") == 2
    finally:
        first.kill()  # SIGKILL: nothing of serve's own clean-up runs
        first.wait()

    # A clean start and stop after that SIGKILL (here by SIGHUP, a closed terminal) leaves nothing running.
    again = _serve(home, port, log)
    _wait(lambda: _healthy(port), "serve to answer after a SIGKILL")
    children = psutil.Process(again.pid).children(recursive=True)
    assert children, "the worker runs beside the API"
    again.send_signal(signal.SIGHUP)
    assert again.wait(60) == 128 + signal.SIGTERM
    _wait(lambda: not any(c.is_running() and c.status() != psutil.STATUS_ZOMBIE for c in children), "children")
    _wait(lambda: _processes_under(home) == [], "no bundled server left", 10)
