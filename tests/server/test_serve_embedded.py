"""`tuneyard serve` on the embedded default: starts, answers, stops on SIGTERM leaving nothing, keeps data."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil

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
    finally:
        _stop(process)
    time.sleep(0.5)
    assert _processes_under(home) == [], "SIGTERM must leave no bundled server behind"

    process, lines = _start(home, port)
    try:
        assert not any("admin token" in line for line in lines), "the admin token is printed on first start only"
        client = GraphQLClient(f"http://127.0.0.1:{port}", token)
        page = client.data("{ examples { totalCount nodes { executionId } } }")["examples"]
        assert page == {"totalCount": 1, "nodes": [{"executionId": "e1"}]}
    finally:
        _stop(process)
    time.sleep(0.5)
    assert _processes_under(home) == []
