"""Durable file writes: a write the client reports done is on disk (fsync'd), so it survives a crash of the host."""

from __future__ import annotations

import os
from contextlib import suppress
from pathlib import Path


def append(path: Path, data: bytes) -> None:
    """Append and fsync. A failed write is cut off again, so that the file never keeps half a line."""
    created = not path.exists()
    with path.open("ab", buffering=0) as file:  # unbuffered: nothing is left to be written after a failure
        size = file.tell()
        try:
            rest = memoryview(data)
            while rest:
                rest = rest[file.write(rest) :]
            os.fsync(file.fileno())
        except BaseException:
            with suppress(OSError):
                file.truncate(size)
            raise
    if created:
        _sync_directory(path.parent)  # the new file's name must be on disk too


def replace(path: Path, data: bytes) -> None:
    """Write a whole file atomically: a reader finds the old content or the new one, never a part."""
    temporary = path.with_name(path.name + ".tmp")
    with temporary.open("wb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())
    os.replace(temporary, path)
    _sync_directory(path.parent)


def remove(path: Path) -> None:
    """Delete a file, if there, for good: a crash after this cannot bring it back."""
    if path.exists():
        path.unlink()
        _sync_directory(path.parent)


def truncate(path: Path) -> None:
    with path.open("r+b") as file:
        file.truncate(0)
        os.fsync(file.fileno())


def _sync_directory(directory: Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
