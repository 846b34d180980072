"""Looking after the bundled servers' processes: a free port, and stopping a process we started."""

from __future__ import annotations

import socket

import psutil


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def stop_process(pid: int, name_part: str, timeout: float = 10.0) -> None:
    """Terminate pid if it is still the process we started (its name contains name_part)."""
    try:
        process = psutil.Process(pid)
        if name_part not in process.name():
            return
        process.terminate()
        process.wait(timeout)
    except psutil.TimeoutExpired:
        process.kill()
    except psutil.NoSuchProcess:
        pass
