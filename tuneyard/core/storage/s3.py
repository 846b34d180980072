"""Artifacts in an S3-compatible bucket (AWS S3, MinIO, Cloudflare R2, ...), through obstore: every host sees them.

Uploads are atomic: a file is one PUT, or a multipart upload (parts of PART_SIZE, PART_CONCURRENCY at a time) that
appears only when completed; one that is interrupted stays invisible (a bucket lifecycle rule that aborts incomplete
multipart uploads reclaims its parts). A folder is its files, then a COMPLETE marker listing them, written last: a
reader fetches a folder only through its marker, so never a part of one.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Collection, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import obstore
import orjson
from obstore.exceptions import BaseError, PermissionDeniedError, UnauthenticatedError
from obstore.store import S3Store

from tuneyard.core.config import Settings
from tuneyard.core.storage.base import ArtifactStore, Download, StorageError, StoredObject, check_key

if TYPE_CHECKING:
    from obstore import GetResult
    from obstore.store import ClientConfig, RetryConfig, S3Config

PART_SIZE = 16 * 1024 * 1024  # larger files go up in parts of this size
MAX_FILE_BYTES = PART_SIZE * 10_000  # S3 takes at most 10,000 parts: 160,000 MiB a file
PART_CONCURRENCY = 4  # parts in flight per upload: at most 64 MiB of a file in memory
CHUNK = 1024 * 1024  # bytes per read of a fetched or streamed object
COMPLETE = ".complete.json"  # a folder's marker: {"files": {relative path: size}}
# Connecting gives up after 5 s; a transfer may take hours (a large model), but not stall for a minute. obstore
# retries a failed request 3 times within 30 s, then the call fails with a StorageError.
CONNECT_TIMEOUT, TRANSFER_TIMEOUT, STALL_TIMEOUT = "5s", "12h", "60s"
MAX_RETRIES, RETRY_SECONDS = 3, 30


@dataclass(frozen=True)
class Options:
    bucket: str
    prefix: str  # "" or "a/b": keys are under it
    endpoint: str | None
    region: str
    access_key_id: str | None
    secret_access_key: str | None
    allow_http: bool
    downloads: str  # "redirect" or "stream"
    expiry_seconds: int


class ObjectStorage(ArtifactStore):
    shared = True

    def __init__(self, options: Options, local_dir: Path) -> None:
        self.options = options
        self.local_dir = local_dir
        self._children: dict[str, ObjectStorage] = {}
        self._bucket_seen = False  # a HEAD's 404 has no body: whether the bucket is missing is asked once, apart
        config: S3Config = {"region": options.region}
        if options.endpoint:
            config["endpoint"] = options.endpoint
        if options.access_key_id and options.secret_access_key:
            config["access_key_id"] = options.access_key_id
            config["secret_access_key"] = options.secret_access_key
        client: ClientConfig = {"connect_timeout": CONNECT_TIMEOUT, "timeout": TRANSFER_TIMEOUT,
                                "read_timeout": STALL_TIMEOUT, "allow_http": options.allow_http}  # fmt: skip
        retry: RetryConfig = {"max_retries": MAX_RETRIES, "retry_timeout": timedelta(seconds=RETRY_SECONDS)}
        try:
            self._store = S3Store(options.bucket, prefix=options.prefix or None, config=config, client_options=client,
                                  retry_config=retry)  # fmt: skip
        except (BaseError, ValueError) as exc:
            raise StorageError(f"object storage {self.describe()} cannot be used: {_first_line(exc)}") from None

    @classmethod
    def from_settings(cls, settings: Settings) -> ObjectStorage:
        """The store of TUNEYARD_STORAGE_URL; a StorageError naming the setting when the settings cannot work."""
        assert settings.storage_url is not None
        bucket, _, prefix = settings.storage_url.removeprefix("s3://").partition("/")
        endpoint = settings.storage_endpoint_url
        if endpoint is not None and not endpoint.startswith(("https://", "http://")):
            raise StorageError(f"TUNEYARD_STORAGE_ENDPOINT_URL must be an http(s):// URL, got {endpoint!r}")
        if endpoint is not None and endpoint.startswith("http://") and not settings.storage_allow_http:
            raise StorageError(
                f"TUNEYARD_STORAGE_ENDPOINT_URL {endpoint} is plain HTTP: set TUNEYARD_STORAGE_ALLOW_HTTP=true to use "
                "it (a MinIO or moto on this network), or give its https:// URL"
            )
        secret = settings.storage_secret_access_key
        if (settings.storage_access_key_id is None) != (secret is None):
            raise StorageError(
                "set both TUNEYARD_STORAGE_ACCESS_KEY_ID and TUNEYARD_STORAGE_SECRET_ACCESS_KEY, or neither (then "
                "the AWS_* environment variables or the instance's credentials are used)"
            )
        options = Options(
            bucket=bucket, prefix=prefix.strip("/"), endpoint=endpoint, region=settings.storage_region,
            access_key_id=settings.storage_access_key_id,
            secret_access_key=None if secret is None else secret.get_secret_value(),
            allow_http=settings.storage_allow_http, downloads=settings.storage_downloads,
            expiry_seconds=settings.storage_url_expiry_seconds,
        )  # fmt: skip
        return cls(options, settings.home)

    def child(self, name: str) -> ObjectStorage:
        found = self._children.get(name)
        if found is None:
            prefix = "/".join(p for p in (self.options.prefix, check_key(name)) if p)
            found = self._children[name] = ObjectStorage(replace(self.options, prefix=prefix), self.local_dir / name)
        return found

    def describe(self) -> str:
        where = f"s3://{self.options.bucket}/{self.options.prefix}".rstrip("/")
        return where if self.options.endpoint is None else f"{where} at {self.options.endpoint}"

    @contextlib.contextmanager
    def _calling(self, doing: str) -> Iterator[None]:
        """obstore's failures as StorageErrors that name the store (a missing object stays FileNotFoundError)."""
        try:
            yield
        except (FileNotFoundError, BaseError) as exc:
            if "NoSuchBucket" in str(exc):
                raise StorageError(f"object storage {self.describe()}: the bucket {self.options.bucket!r} does not "
                                   f"exist (while trying to {doing})") from None  # fmt: skip
            if isinstance(exc, FileNotFoundError):
                raise
            if isinstance(exc, PermissionDeniedError | UnauthenticatedError):
                raise StorageError(
                    f"object storage {self.describe()} refused to {doing}: {_first_line(exc)} (check "
                    "TUNEYARD_STORAGE_ACCESS_KEY_ID / TUNEYARD_STORAGE_SECRET_ACCESS_KEY and the bucket's policy)"
                ) from None
            raise StorageError(f"object storage {self.describe()}: could not {doing}: {_first_line(exc)}",
                               retryable=True) from None  # fmt: skip

    async def put_file(self, key: str, source: Path, *, media_type: str | None = None, name: str | None = None) -> None:
        attributes: dict[str, str] = {}
        if media_type is not None:
            attributes["Content-Type"] = media_type
        if name is not None:
            attributes["Content-Disposition"] = f'attachment; filename="{name}"'
        size = (await asyncio.to_thread(source.stat)).st_size
        if size > MAX_FILE_BYTES:
            raise StorageError(f"{key} is {size:,} bytes: object storage takes files of at most {MAX_FILE_BYTES:,} "
                               f"bytes (10,000 parts of {PART_SIZE:,})")  # fmt: skip
        with self._calling(f"store {check_key(key)}"):
            await obstore.put_async(self._store, key, source, attributes=attributes or None,
                                    chunk_size=PART_SIZE, max_concurrency=PART_CONCURRENCY)  # fmt: skip

    async def local_copy(self, key: str) -> Path | None:
        target = self.local_dir / check_key(key)
        if await asyncio.to_thread(target.is_file):
            return target
        return target if await self._fetch(key, target) else None

    async def _get(self, key: str) -> GetResult | None:
        """The object, to read; None when there is none (a StorageError when the bucket itself is missing)."""
        with self._calling(f"read {check_key(key)}"):
            try:
                return await obstore.get_async(self._store, key)
            except FileNotFoundError as exc:
                if "NoSuchBucket" in str(exc):
                    raise  # _calling says so
                return None

    async def _fetch(self, key: str, target: Path) -> bool:
        """Write the object to `target` (a hidden temporary file renamed when whole); False: no such object."""
        found = await self._get(key)
        if found is None:
            return False
        with self._calling(f"read {key}"):
            await asyncio.to_thread(target.parent.mkdir, parents=True, exist_ok=True)
            # Named like a temporary export file without a job: a worker removes it once old (exports.parts).
            temporary = target.with_name(f".fetch-{uuid.uuid4().hex[:12]}.part")
            handle: IO[bytes] = await asyncio.to_thread(open, temporary, "xb")
            try:
                async for chunk in found.stream(min_chunk_size=CHUNK):
                    await asyncio.to_thread(handle.write, chunk)
                await asyncio.to_thread(handle.close)
                await asyncio.to_thread(os.replace, temporary, target)
            finally:
                handle.close()
                temporary.unlink(missing_ok=True)
        return True

    async def exists(self, key: str) -> bool:
        return await self._head(key) is not None

    async def _head(self, key: str) -> int | None:
        """The object's size; None when there is none (a StorageError when the bucket itself is missing)."""
        with self._calling(f"look for {check_key(key)}"):
            try:
                meta = await obstore.head_async(self._store, key)
            except FileNotFoundError:
                if not self._bucket_seen:
                    # Listing a missing bucket answers NoSuchBucket (which _calling reports); an empty list is fine.
                    await obstore.list(self._store, prefix=f"{key}/", chunk_size=1).collect_async()
                    self._bucket_seen = True
                return None
        return meta["size"]

    async def files_under(self, folder: str) -> list[StoredObject]:
        with self._calling(f"list {check_key(folder)}/"):
            found = await obstore.list(self._store, prefix=folder + "/").collect_async()
        return [StoredObject(meta["path"], meta["size"], meta["last_modified"]) for meta in found]

    async def delete(self, keys: Sequence[str]) -> None:
        if keys:
            with self._calling(f"delete {', '.join(check_key(k) for k in keys[:3])}{'...' if len(keys) > 3 else ''}"):
                await obstore.delete_async(self._store, list(keys))

    async def download(self, key: str) -> Download | None:
        if self.options.downloads == "stream":
            found = await self._get(key)
            if found is None:
                return None
            return Download(size=found.meta["size"], chunks=self._chunks(found.stream(min_chunk_size=CHUNK), key))
        size = await self._head(key)
        if size is None:
            return None
        expiry = self.options.expiry_seconds
        with self._calling(f"sign a download of {key}"):
            url = await obstore.sign_async(self._store, "GET", key, timedelta(seconds=expiry))
        return Download(size=size, url=url, expires_seconds=expiry)

    async def _chunks(self, stream: AsyncIterator[Any], key: str) -> AsyncIterator[bytes]:
        with self._calling(f"read {key}"):
            async for chunk in stream:
                yield bytes(chunk)

    async def put_folder(self, key: str, folder: Path, skip: Collection[str] = ()) -> None:
        files = await asyncio.to_thread(_files, folder, skip)
        marker = f"{check_key(key)}/{COMPLETE}"
        await self.delete([marker])  # a folder stored again is incomplete until its marker is back
        for relative, path, _ in files:
            await self.put_file(f"{key}/{relative}", path)
        listing = orjson.dumps({"files": {relative: size for relative, _, size in files}})
        with self._calling(f"store {marker}"):
            await obstore.put_async(self._store, marker, listing)
        await asyncio.to_thread((folder / COMPLETE).write_bytes, listing)  # this host's copy is complete too

    async def local_folder(self, key: str) -> Path | None:
        """A folder here counts once it has its marker: one left by a run that died, or resumed elsewhere, does not
        (it is replaced by the stored one)."""
        target = self.local_dir / check_key(key)
        if await asyncio.to_thread((target / COMPLETE).is_file):
            return target
        marker = await self._get(f"{key}/{COMPLETE}")
        if marker is None:
            return None  # not stored, or its upload has not finished
        with self._calling(f"read {key}/{COMPLETE}"):
            listing = bytes(await marker.bytes_async())
        temporary = target.with_name(f".{target.name}.fetch-{uuid.uuid4().hex[:8]}")
        try:
            for relative, size in orjson.loads(listing)["files"].items():
                path = temporary / check_key(relative)
                if not await self._fetch(f"{key}/{relative}", path) or path.stat().st_size != size:
                    raise StorageError(f"object storage {self.describe()}: {key}/{relative} is missing or not "
                                       f"{size} bytes, as {key}/{COMPLETE} says")  # fmt: skip
            await asyncio.to_thread((temporary / COMPLETE).write_bytes, listing)
            await asyncio.to_thread(_swap, temporary, target)
        finally:
            await asyncio.to_thread(shutil.rmtree, temporary, True)
        return target


def _swap(folder: Path, target: Path) -> None:
    """Put a fetched folder in place of what is at `target` (nothing, or an incomplete folder); when another fetch
    of it finished first, keep that one."""
    if (target / COMPLETE).is_file():
        return
    if target.exists():
        stale = target.with_name(f".{target.name}.stale-{uuid.uuid4().hex[:8]}")
        os.replace(target, stale)
        shutil.rmtree(stale, ignore_errors=True)
    try:
        os.replace(folder, target)
    except OSError:
        if not (target / COMPLETE).is_file():
            raise


def _files(folder: Path, skip: Collection[str]) -> list[tuple[str, Path, int]]:
    """(relative path, path, size) of every file under `folder`, but not under its top-level entries in `skip`."""
    found = []
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if relative.parts[0] not in skip and path.is_file() and relative.name != COMPLETE:
            found.append((relative.as_posix(), path, path.stat().st_size))
    return found


def _first_line(exc: BaseException) -> str:
    """obstore's message without its debug dump (the first line: the request and what went wrong)."""
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:400]
