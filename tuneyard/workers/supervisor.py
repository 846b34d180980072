"""Worker child processes: started together, restarted if one dies, stopped (TERM, then KILL) together."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Sequence

log = logging.getLogger(__name__)

RESTART_DELAY = 1.0
STOP_MARGIN = 10.0  # seconds a child may take beyond its grace period (handing jobs back, closing) before a KILL


class WorkerProcesses:
    """`tuneyard worker --processes 1` children (of `queues`, None: all, but `exclude`); stop() waits out their
    `grace` first."""

    def __init__(
        self,
        count: int,
        threads: int,
        env: dict[str, str],
        grace: float,
        queues: Sequence[str] | None = None,
        exclude: Sequence[str] = (),
    ) -> None:
        self.count = count
        self.threads = threads
        self.env = env
        self.grace = grace
        self.queues = queues
        self.exclude = exclude
        self.children: list[subprocess.Popen[bytes]] = []
        self._stopping = threading.Event()
        self._monitor: threading.Thread | None = None

    def _spawn(self) -> subprocess.Popen[bytes]:
        command = [
            sys.executable, "-m", "tuneyard.cli", "worker", "--processes", "1", "--threads", str(self.threads),
            "--parent-pid", str(os.getpid()),
        ]  # fmt: skip
        if self.queues is not None:
            command += ["--queues", ",".join(self.queues)]
        if self.exclude:
            command += ["--exclude-queues", ",".join(self.exclude)]
        return subprocess.Popen(command, env=self.env)

    def start(self) -> None:
        self.children = [self._spawn() for _ in range(self.count)]
        self._monitor = threading.Thread(target=self._watch, name="worker-supervisor", daemon=True)
        self._monitor.start()

    def _watch(self) -> None:
        while not self._stopping.wait(0.5):
            for i, child in enumerate(self.children):
                code = child.poll()
                if code is not None and not self._stopping.is_set():
                    log.warning("worker process %s exited with %s; starting another", child.pid, code)
                    time.sleep(RESTART_DELAY)
                    if not self._stopping.is_set():
                        self.children[i] = self._spawn()

    def request_stop(self) -> None:
        """Safe from a signal handler: wakes wait(); call stop() afterwards."""
        self._stopping.set()

    def wait(self) -> None:
        """Block until request_stop() or stop() is called."""
        while not self._stopping.wait(1.0):
            pass

    def stop(self) -> None:
        self._stopping.set()
        if self._monitor is not None:
            self._monitor.join()
        for child in self.children:
            if child.poll() is None:
                child.terminate()
        deadline = time.monotonic() + self.grace + STOP_MARGIN
        for child in self.children:
            try:
                child.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("worker process %s did not stop in time; killing it", child.pid)
                child.kill()
                child.wait()
