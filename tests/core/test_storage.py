"""The artifact stores (tuneyard.core.storage) over their interface, each implementation: local disk, and object
storage against moto's S3 server on 127.0.0.1 (the S3 protocol over real HTTP; not AWS). Then what only object
storage does: multipart uploads, folders seen whole or not at all, and the errors of a configuration that cannot work.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import obstore
import pydantic
import pytest

from tests.support import free_port
from tests.support.s3 import S3Server, s3_server
from tuneyard.core.config import Settings
from tuneyard.core.storage import ArtifactStore, LocalStore, StorageError, artifact_store
from tuneyard.core.storage.s3 import COMPLETE, MAX_FILE_BYTES, PART_SIZE, ObjectStorage


@pytest.fixture(scope="module")
def s3() -> Iterator[S3Server]:
    with s3_server() as server:
        yield server


class Hosts:
    """The same store seen from two hosts: `here` writes, `there` (another TUNEYARD_HOME) reads. On local disk both
    are one folder: only one host sees it."""

    def __init__(self, here: ArtifactStore, there: ArtifactStore, bucket: str | None) -> None:
        self.here, self.there, self.bucket = here, there, bucket


@pytest.fixture(params=["local", "s3"])
def hosts(request: pytest.FixtureRequest, tmp_path: Path) -> Hosts:
    if request.param == "local":
        store = artifact_store(Settings(home=tmp_path / "home"))
        return Hosts(store, store, None)
    s3: S3Server = request.getfixturevalue("s3")
    bucket = s3.bucket()
    here = artifact_store(s3.settings(tmp_path / "a", bucket))
    there = artifact_store(s3.settings(tmp_path / "b", bucket))
    return Hosts(here, there, bucket)


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


async def test_a_stored_file_is_read_listed_served_and_deleted_from_any_host(hosts: Hosts) -> None:
    exports = hosts.here.child("exports")
    data = os.urandom(200_000)
    source = write(exports.local_dir / ".job-1-abc.part", data)
    await exports.put_file("v1-abc.jsonl", source, media_type="application/x-ndjson", name="v1-abc.jsonl")

    reader = hosts.there.child("exports")
    assert await reader.exists("v1-abc.jsonl") and not await reader.exists("v1-other.jsonl")
    copy = await reader.local_copy("v1-abc.jsonl")
    assert copy is not None and copy.read_bytes() == data
    assert copy.parent == reader.local_dir, "kept under the host's own TUNEYARD_HOME"
    assert await reader.local_copy("v1-other.jsonl") is None
    assert [(f.key, f.size) for f in await hosts.there.files_under("exports")] == [("exports/v1-abc.jsonl", len(data))]

    download = await reader.download("v1-abc.jsonl")
    assert download is not None and download.size == len(data)
    if download.path is not None:
        assert download.path.read_bytes() == data
    elif download.url is not None:
        async with httpx.AsyncClient() as client:
            got = await client.get(download.url)
        assert got.status_code == 200 and got.content == data
        assert got.headers["content-disposition"] == 'attachment; filename="v1-abc.jsonl"'
    assert await reader.download("v1-other.jsonl") is None

    await hosts.here.child("exports").delete(["v1-abc.jsonl", "never-there.jsonl"])
    assert not await reader.exists("v1-abc.jsonl")
    assert await hosts.there.files_under("exports") == []


async def test_a_folder_is_fetched_whole_without_what_was_skipped(hosts: Hosts) -> None:
    folder = hosts.here.local_dir / "models" / "7"
    files = {"merged/model.safetensors": os.urandom(300_000), "merged/config.json": b"{}", "manifest.json": b"{}"}
    for name, data in files.items():
        write(folder / name, data)
    write(folder / "checkpoint" / "optimizer.pt", b"state")
    await hosts.here.put_folder("models/7", folder, skip={"checkpoint"})

    fetched = await hosts.there.local_folder("models/7")
    assert fetched is not None and fetched == hosts.there.local_dir / "models" / "7"
    for name, data in files.items():
        assert (fetched / name).read_bytes() == data
    assert await hosts.there.local_folder("models/8") is None
    if hosts.bucket is not None:
        assert not (fetched / "checkpoint").exists(), "a checkpoint stays on the worker that wrote it"
        assert not list(fetched.parent.glob(".*")), "no temporary folder left"
    await hosts.here.delete_folder("models/7")
    assert await hosts.here.files_under("models/7") == []


@pytest.mark.parametrize("key", ["../etc/passwd", "/abs", "a//b", "a/./b", "", "a/.."])
async def test_a_key_never_leaves_the_root(hosts: Hosts, key: str) -> None:
    with pytest.raises(StorageError, match="not a storage key"):
        await hosts.here.exists(key)


async def test_a_large_file_goes_up_in_parts(s3: S3Server, tmp_path: Path) -> None:
    bucket = s3.bucket()
    store = artifact_store(s3.settings(tmp_path, bucket, prefix="p"))
    data = os.urandom(PART_SIZE + 1_000_000)
    await store.put_file("exports/big.jsonl", write(tmp_path / "big", data))
    head = obstore.head(s3.client(bucket), "p/exports/big.jsonl")
    assert str(head["e_tag"]).strip('"').endswith("-2"), "a multipart upload's ETag counts its parts"
    assert hashlib.sha256(s3.read(bucket, "p/exports/big.jsonl")).digest() == hashlib.sha256(data).digest()


async def test_a_file_over_the_size_limit_is_refused_before_any_upload(s3: S3Server, tmp_path: Path) -> None:
    bucket = s3.bucket()
    huge = tmp_path / "huge"
    with huge.open("wb") as handle:
        handle.truncate(MAX_FILE_BYTES + 1)  # sparse: nothing is written
    with pytest.raises(StorageError, match=r"at most 167,772,160,000 bytes \(10,000 parts of 16,777,216\)"):
        await artifact_store(s3.settings(tmp_path, bucket)).put_file("exports/huge", huge)
    assert s3.keys(bucket) == {}


async def test_a_folder_whose_upload_did_not_finish_is_not_fetched(s3: S3Server, tmp_path: Path) -> None:
    bucket = s3.bucket()
    here = artifact_store(s3.settings(tmp_path / "a", bucket))
    folder = tmp_path / "a" / "models" / "9"
    write(folder / "merged" / "model.safetensors", b"weights")
    await here.put_folder("models/9", folder)
    obstore.delete(s3.client(bucket), f"tuneyard/models/9/{COMPLETE}")  # as if the uploader died before the marker
    there = artifact_store(s3.settings(tmp_path / "b", bucket))
    assert await there.local_folder("models/9") is None
    assert not (tmp_path / "b" / "models" / "9").exists()


async def test_a_folder_left_incomplete_here_is_replaced_by_the_stored_one(s3: S3Server, tmp_path: Path) -> None:
    """A worker that died mid-run leaves models/<id>/ with a checkpoint only; the run finished on another worker.
    This host must load the stored model, not take the leftover folder for it."""
    bucket = s3.bucket()
    trainer = artifact_store(s3.settings(tmp_path / "a", bucket))
    write(tmp_path / "a" / "models" / "5" / "merged" / "model.safetensors", b"trained")
    await trainer.put_folder("models/5", tmp_path / "a" / "models" / "5")
    assert await trainer.local_folder("models/5") == tmp_path / "a" / "models" / "5", "the trainer's own copy"
    write(tmp_path / "b" / "models" / "5" / "checkpoint" / "state.json", b"{}")
    fetched = await artifact_store(s3.settings(tmp_path / "b", bucket)).local_folder("models/5")
    assert fetched == tmp_path / "b" / "models" / "5"
    assert (fetched / "merged" / "model.safetensors").read_bytes() == b"trained"
    assert not (fetched / "checkpoint").exists() and not list((tmp_path / "b" / "models").glob(".*"))


async def test_streamed_downloads_carry_the_bytes(s3: S3Server, tmp_path: Path) -> None:
    bucket = s3.bucket()
    store = artifact_store(s3.settings(tmp_path, bucket, storage_downloads="stream"))
    data = os.urandom(3_000_000)
    await store.put_file("exports/s.jsonl", write(tmp_path / "s", data))
    download = await store.download("exports/s.jsonl")
    assert download is not None and download.chunks is not None and download.url is None
    assert b"".join([chunk async for chunk in download.chunks]) == data


def test_a_storage_url_that_cannot_work_is_refused_when_the_settings_are_read(tmp_path: Path) -> None:
    for url in ("gs://bucket/x", "s3://", "bucket/prefix", "file:///tmp/x"):
        with pytest.raises(pydantic.ValidationError, match="TUNEYARD_STORAGE_URL must be s3://<bucket>"):
            Settings(home=tmp_path, storage_url=url)
    with pytest.raises(pydantic.ValidationError, match="storage_downloads"):
        Settings(home=tmp_path, storage_url="s3://b", storage_downloads="copy")  # type: ignore[arg-type]
    assert isinstance(artifact_store(Settings(home=tmp_path, storage_url="  ")), LocalStore), "blank: local disk"


def test_settings_that_cannot_reach_a_store_say_which_to_change(s3: S3Server, tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="TUNEYARD_STORAGE_ALLOW_HTTP=true"):
        artifact_store(s3.settings(tmp_path, "b", storage_allow_http=False))
    with pytest.raises(StorageError, match="must be an http"):
        artifact_store(s3.settings(tmp_path, "b", storage_endpoint_url="127.0.0.1:9000"))
    with pytest.raises(StorageError, match="set both TUNEYARD_STORAGE_ACCESS_KEY_ID"):
        artifact_store(s3.settings(tmp_path, "b", storage_secret_access_key=None))


async def test_a_missing_bucket_and_an_unreachable_endpoint_are_clear_errors(s3: S3Server, tmp_path: Path) -> None:
    source = write(tmp_path / "f", b"x")
    missing = artifact_store(s3.settings(tmp_path, "no-such-bucket"))
    calls = (lambda: missing.put_file("exports/f", source), lambda: missing.exists("exports/f"),
             lambda: missing.local_folder("models/1"), lambda: missing.download("exports/f"))  # fmt: skip
    for call in calls:
        with pytest.raises(StorageError, match="the bucket 'no-such-bucket' does not exist"):
            await call()
    nowhere = artifact_store(s3.settings(tmp_path, "b", storage_endpoint_url=f"http://127.0.0.1:{free_port()}"))
    started = time.monotonic()
    with pytest.raises(
        StorageError, match=r"s3://b/tuneyard at http://127\.0\.0\.1:\d+: could not store exports/f"
    ) as e:
        await nowhere.put_file("exports/f", source)
    assert e.value.retryable and time.monotonic() - started < 30
    assert s3.settings(tmp_path, "b").provider_secrets()[-1] == "tuneyard-test-secret", "redacted from messages"


async def test_one_client_per_configuration(s3: S3Server, tmp_path: Path) -> None:
    settings = s3.settings(tmp_path, "b")
    assert artifact_store(settings) is artifact_store(settings.model_copy())
    assert artifact_store(settings).child("exports") is artifact_store(settings).child("exports")
    assert isinstance(artifact_store(settings), ObjectStorage)
    assert artifact_store(s3.settings(tmp_path, "c")) is not artifact_store(settings)
    await asyncio.sleep(0)
