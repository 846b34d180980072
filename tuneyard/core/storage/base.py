"""The artifact store interface: files and folders kept by key, whole or not at all, on disk or in a bucket."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import ClassVar

from tuneyard.core.errors import TuneyardError


class StorageError(TuneyardError):
    """The store refused or failed a call (no such bucket, credentials refused, endpoint unreachable), or is
    configured in a way that cannot work; the message names the store. `retryable`: a lost connection or a 5xx."""

    code = "STORAGE_ERROR"

    def __init__(self, message: str, retryable: bool = False) -> None:
        super().__init__(message)
        self.retryable = retryable


@dataclass(frozen=True, slots=True)
class StoredObject:
    key: str  # relative to the store's root, like the keys given to it
    size: int
    modified: datetime


@dataclass(frozen=True, slots=True)
class Download:
    """How to serve a stored file: from this host's disk (`path`), by a redirect to a signed URL (`url`, valid for
    `expires_seconds`), or as a stream of its bytes (`chunks`)."""

    size: int
    path: Path | None = None
    url: str | None = None
    expires_seconds: int | None = None
    chunks: AsyncIterator[bytes] | None = None


def check_key(key: str) -> str:
    """A key is a relative name: parts separated by "/", none of them empty, "." or ".." (never outside the root)."""
    parts = key.split("/")
    if not key or any(part in ("", ".", "..") or "\\" in part or "\0" in part for part in parts):
        raise StorageError(f"{key!r} is not a storage key: relative parts joined by '/', none empty, '.' or '..'")
    return key


class ArtifactStore(ABC):
    """Files and folders by key. `shared`: every host sees the same files (an object store), or only this one (its
    disk). `local_dir` is this host's folder for the store: where files are written before they are stored and
    where fetched ones are kept; on local disk, the store itself."""

    shared: ClassVar[bool]
    local_dir: Path

    @abstractmethod
    def child(self, name: str) -> ArtifactStore:
        """The store under `name` (keys relative to it; its local_dir is local_dir / name)."""

    @abstractmethod
    def describe(self) -> str:
        """The store as messages name it: "local disk /srv/tuneyard/exports", "s3://bucket/prefix"."""

    @abstractmethod
    async def put_file(self, key: str, source: Path, *, media_type: str | None = None, name: str | None = None) -> None:
        """Store the file at `source` under `key`, whole or not at all. On local disk it is moved there (a rename on
        the same disk: keep `source` in local_dir); otherwise it is uploaded (in parts when large) and `source` stays
        for the caller to remove. `media_type` and `name` are what a download says the file is and is called."""

    @abstractmethod
    async def local_copy(self, key: str) -> Path | None:
        """A file on this host with the object's bytes, or None when there is no such object: on local disk the file
        itself; otherwise fetched into local_dir the first time (whole, by a rename) and kept (a key's bytes never
        change once written)."""

    @abstractmethod
    async def exists(self, key: str) -> bool: ...

    @abstractmethod
    async def files_under(self, folder: str) -> list[StoredObject]:
        """Every file under the folder `folder` (whole path segments: "models/1" is not a prefix of "models/12")."""

    @abstractmethod
    async def delete(self, keys: Sequence[str]) -> None:
        """Remove these files; a missing one is not an error."""

    @abstractmethod
    async def download(self, key: str) -> Download | None:
        """How to serve the file to a client (see Download); None when there is no such object."""

    @abstractmethod
    async def put_folder(self, key: str, folder: Path, skip: Collection[str] = ()) -> None:
        """Store the files under `folder` (but not its top-level entries named in `skip`) under `key`; a reader sees
        the folder once all of them are stored (local_folder), never a part of it."""

    @abstractmethod
    async def local_folder(self, key: str) -> Path | None:
        """The folder stored under `key` on this host (local_dir / key), fetched whole the first time; None when no
        complete folder is stored there."""

    async def delete_folder(self, key: str) -> None:
        """Remove every file under the folder `key`."""
        await self.delete([found.key for found in await self.files_under(check_key(key))])
