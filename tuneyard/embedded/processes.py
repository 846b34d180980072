"""Looking after the bundled servers' processes: a free port, whether a pid still runs, and stopping one we started."""

from __future__ import annotations

import socket


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def is_alive(pid: int) -> bool:
    """True if pid runs; a zombie (killed, not yet reaped by its parent) does not count."""
    import psutil  # imported here: only the embedded mode needs it (the tuneyard[embedded] extra)

    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.AccessDenied:
        return True  # another user's process: it exists
    except (psutil.NoSuchProcess, ValueError):
        return False


def stop_process(pid: int, name_part: str, timeout: float = 10.0) -> None:
    """Terminate pid if it is still the process we started (its name contains name_part)."""
    import psutil

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
