"""Artifacts on this host's disk: a key is a path under the root (TUNEYARD_HOME), so files stay where they always
were (exports/..., models/<job id>/...). Only this host sees them: another replica answers 404 for a download, and a
model trained on another worker is not here."""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import Collection, Sequence
from datetime import UTC, datetime
from pathlib import Path

from tuneyard.core.storage.base import ArtifactStore, Download, StoredObject, check_key


class LocalStore(ArtifactStore):
    shared = False

    def __init__(self, root: Path) -> None:
        self.local_dir = root

    def child(self, name: str) -> LocalStore:
        return LocalStore(self.local_dir / check_key(name))

    def describe(self) -> str:
        return f"local disk {self.local_dir}"

    def path(self, key: str) -> Path:
        return self.local_dir / check_key(key)

    async def put_file(self, key: str, source: Path, *, media_type: str | None = None, name: str | None = None) -> None:
        await asyncio.to_thread(_move, source, self.path(key))

    async def local_copy(self, key: str) -> Path | None:
        return await asyncio.to_thread(self._file, key)

    def _file(self, key: str) -> Path | None:
        """The key's regular file, if it really is under the root (a symbolic link out of it is not)."""
        path = self.path(key).resolve()
        return path if path.is_relative_to(self.local_dir.resolve()) and path.is_file() else None

    async def exists(self, key: str) -> bool:
        return await self.local_copy(key) is not None

    async def files_under(self, folder: str) -> list[StoredObject]:
        return await asyncio.to_thread(self._list, self.path(folder))

    def _list(self, directory: Path) -> list[StoredObject]:
        found = []
        for path in sorted(directory.rglob("*")) if directory.is_dir() else []:
            if path.is_file():
                stat = path.stat()
                modified = datetime.fromtimestamp(stat.st_mtime, UTC)
                found.append(StoredObject(path.relative_to(self.local_dir).as_posix(), stat.st_size, modified))
        return found

    async def delete(self, keys: Sequence[str]) -> None:
        paths = [self.path(key) for key in keys]
        await asyncio.to_thread(_remove, paths)

    async def download(self, key: str) -> Download | None:
        path = await self.local_copy(key)
        return None if path is None else Download(size=path.stat().st_size, path=path)

    async def put_folder(self, key: str, folder: Path, skip: Collection[str] = ()) -> None:
        await asyncio.to_thread(_copy_folder, folder, self.path(key), skip)

    async def local_folder(self, key: str) -> Path | None:
        path = self.path(key)
        return path if await asyncio.to_thread(path.is_dir) else None

    async def delete_folder(self, key: str) -> None:
        await asyncio.to_thread(shutil.rmtree, self.path(key), True)


def _remove(paths: Sequence[Path]) -> None:
    for path in paths:
        path.unlink(missing_ok=True)


def _move(source: Path, target: Path) -> None:
    if source.resolve() != target.resolve():
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(source, target)


def _copy_folder(folder: Path, target: Path, skip: Collection[str]) -> None:
    """Copy to a hidden sibling, then rename it into place: the folder appears whole. A folder written in place (a
    model on local disk) stays as it is."""
    if folder.resolve() == target.resolve():
        return
    temporary = target.with_name(f".{target.name}.copy-{uuid.uuid4().hex[:8]}")
    try:
        shutil.copytree(folder, temporary, ignore=lambda where, names: [n for n in names if Path(where) == folder
                                                                          and n in skip])  # fmt: skip
        shutil.rmtree(target, ignore_errors=True)
        os.replace(temporary, target)
    finally:
        shutil.rmtree(temporary, ignore_errors=True)
