"""Where export files are kept (tuneyard.core.storage): TUNEYARD_HOME/exports, or exports/ in object storage; and
the clean-up of what a failed, cancelled or killed run stored."""

from __future__ import annotations

import logging
from pathlib import Path

import asyncpg

from tuneyard.core.config import Settings
from tuneyard.core.storage import ArtifactStore, LocalStore, StorageError, artifact_store
from tuneyard.datasets.exports import repository as repo
from tuneyard.datasets.exports.parts import remove_parts_of
from tuneyard.datasets.exports.writer import file_stem, final_name
from tuneyard.datasets.models import Dataset, ExportFormat, Split

log = logging.getLogger(__name__)

MEDIA_TYPE = "application/x-ndjson"

# Where export files are: a store (see export_store), or a folder of this host's disk (a LocalStore of it).
Where = ArtifactStore | Path


def export_store(settings: Settings) -> ArtifactStore:
    """The configured home of export files: TUNEYARD_HOME/exports, or exports/ under TUNEYARD_STORAGE_URL."""
    return artifact_store(settings).child("exports")


def as_store(where: Where) -> ArtifactStore:
    return LocalStore(where) if isinstance(where, Path) else where


def plain(file_name: str) -> bool:
    """A name a run writes: a plain, visible file name (a recorded name is never followed to a path elsewhere)."""
    return bool(file_name) and "/" not in file_name and "\\" not in file_name and not file_name.startswith(".")


async def remove_earlier_attempts(
    pool: asyncpg.Pool, store: ArtifactStore, dataset: Dataset, fmt: ExportFormat, job_id: str
) -> None:
    """A retry: remove the temporary files a killed attempt left on this host and, in object storage, the files it
    uploaded without recording them (never served: downloads name recorded files only; removed to not pay for them).
    An attempt killed on another host leaves its upload behind: unrecorded, so never served either."""
    tags = await remove_parts_of(store.local_dir, job_id)
    if tags and store.shared:
        recorded = {e.file_name for e in await repo.exports_of_job(pool, job_id)}
        stems = [file_stem(dataset, fmt, split) for split in (None, Split.TRAIN, Split.VALIDATION)]
        names = [final_name(stem, tag) for tag in tags for stem in stems]
        await store.delete([name for name in names if name not in recorded])


async def forget(store: ArtifactStore, keys: list[str]) -> None:
    """Remove what a failed or cancelled run stored; a store that fails now is logged (the run's own error wins)."""
    try:
        await store.delete(keys)
    except StorageError as error:
        log.warning("could not remove the files of a failed export from %s: %s", store.describe(), error.message)
