"""The recorded exports of a version, and their files: where to read one on this host, how to serve one."""

from __future__ import annotations

from pathlib import Path

import asyncpg

from tuneyard.core.errors import ValidationError
from tuneyard.core.ids import parse_id
from tuneyard.core.storage import Download, LocalStore
from tuneyard.datasets.exports import repository as repo
from tuneyard.datasets.exports.stored import Where, as_store, plain
from tuneyard.datasets.models import DatasetExport


async def exports_of(pool: asyncpg.Pool, dataset_id: int) -> list[DatasetExport]:
    """The files written for a version, oldest first."""
    return await repo.exports_of(pool, dataset_id)


async def export_file(pool: asyncpg.Pool, where: Where, export_id: str) -> tuple[DatasetExport, Path] | None:
    """The export and its file on this host (from object storage: fetched once); None when the id names no export
    or its file is not there."""
    found = await _recorded(pool, export_id)
    if found is None:
        return None
    path = await as_store(where).local_copy(found.file_name)
    return None if path is None else (found, path)


async def export_download(pool: asyncpg.Pool, where: Where, export_id: str) -> tuple[DatasetExport, Download] | None:
    """The export and how to serve its file (from this host's disk, a signed URL, or a stream of the object); None
    when the id names no export or its file is not there (in object storage, nor on this host's disk)."""
    found = await _recorded(pool, export_id)
    if found is None:
        return None
    store = as_store(where)
    download = await store.download(found.file_name)
    if download is None and store.shared:
        # Written on this host before object storage was configured: never uploaded, still served from here.
        download = await LocalStore(store.local_dir).download(found.file_name)
    return None if download is None else (found, download)


async def _recorded(pool: asyncpg.Pool, export_id: str) -> DatasetExport | None:
    """The recorded export, if its file name is one a run writes (a plain name: never a path elsewhere)."""
    try:
        number = parse_id(export_id, "export")
    except ValidationError:
        return None  # a download URL is a path: one that names no export is simply not found
    found = await repo.get_export(pool, number)
    return found if found is not None and plain(found.file_name) else None
