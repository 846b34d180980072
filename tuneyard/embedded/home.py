"""TUNEYARD_HOME as `serve` holds it: one serve at a time, and nothing in it readable by anyone but its owner."""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

LOCK_FILE = "serve.lock"
PRIVATE_UMASK = 0o077  # files 0600, folders 0700


class HomeBusy(SystemExit):
    """Another `tuneyard serve` holds this home: refuse at once, touching nothing."""


@contextlib.contextmanager
def serve_lock(home: Path) -> Iterator[None]:
    """Hold HOME/serve.lock while this serve runs; HomeBusy, naming the holder's pid, if another serve holds it.

    An flock, so the kernel lets go when its holder dies in any way (SIGKILL included): no stale lock to guess at.
    """
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    descriptor = os.open(home / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)  # not inherited by child processes
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.read(descriptor, 32).decode(errors="replace").strip() or "unknown"
        os.close(descriptor)
        raise HomeBusy(
            f"tuneyard: another tuneyard serve (pid {holder}) is using {home}; stop it first, "
            "or set TUNEYARD_HOME to another folder"
        ) from None
    try:
        os.ftruncate(descriptor, 0)
        os.write(descriptor, f"{os.getpid()}\n".encode())
        yield
    finally:
        os.close(descriptor)  # releases the lock


def serving_pid(home: Path) -> int | None:
    """The pid of the `tuneyard serve` holding this home's lock, or None when no serve runs on it."""
    try:
        descriptor = os.open(home / LOCK_FILE, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(descriptor, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.read(descriptor, 32).decode(errors="replace").strip()
        return int(holder) if holder.isdecimal() else 0
    finally:
        os.close(descriptor)  # releases a lock taken just now
    return None


def make_private(home: Path) -> None:
    """Owner-only modes for the home, its folders and the export files: new ones get them from the umask.

    Run as root, the bundled PostgreSQL runs as the `pgserver` user, who must be able to pass through the home
    to its data folder (0700 itself): the home is then 0711, which still lets no one else list or read it.
    """
    home.chmod(0o711 if os.geteuid() == 0 else 0o700)
    for child in home.iterdir():
        if child.name == "postgres":
            continue  # the data folder: PostgreSQL keeps it 0700 itself, and owns it when run as root
        if child.is_dir() and not child.is_symlink():
            child.chmod(0o700)
            for entry in child.iterdir():
                if entry.is_file() and not entry.is_symlink():
                    entry.chmod(0o600)
        elif child.is_file():
            child.chmod(0o600)
