"""Exports in object storage, against moto's S3 server on 127.0.0.1 (the S3 protocol over real HTTP; not AWS):
written on the worker, uploaded when complete, recorded, and served by any replica, whatever its TUNEYARD_HOME:
redirected to a presigned URL or streamed. Failed, cancelled and killed runs leave nothing that looks finished."""

from __future__ import annotations

import asyncio
import hashlib
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from bench.data import examples as generate
from tests.datasets.test_api import CREATE, EXPORT, JOB
from tests.support import JOB_TEST_SETTINGS, RECORD, GraphQLClient, Server, service_env, tuneyard
from tests.support.databases import create_database, drop_database
from tests.support.datasets import load
from tests.support.s3 import S3Server, s3_server
from tuneyard.core.storage import ArtifactStore
from tuneyard.datasets import service
from tuneyard.datasets.exports import service as exports
from tuneyard.datasets.exports.writer import file_stem
from tuneyard.datasets.models import ExportFormat, NewDataset, Split


@pytest.fixture(scope="module")
def s3() -> Iterator[S3Server]:
    with s3_server() as server:
        yield server


def new(name: str, fraction: float = 0.2) -> NewDataset:
    return NewDataset(name=name, description=None, filter={}, validation_fraction=fraction, seed=1)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class Quiet:
    async def progress(self, fraction: float, message: str | None = None) -> None:
        return None

    async def check_cancelled(self) -> None:
        return None


def store_of(s3: S3Server, home: Path, bucket: str) -> ArtifactStore:
    return exports.export_store(s3.settings(home, bucket))


async def bucket_keys(s3: S3Server, bucket: str) -> dict[str, int]:
    return await asyncio.to_thread(s3.keys, bucket)


async def test_an_export_lands_in_the_bucket_and_another_host_reads_it(
    pool: asyncpg.Pool, s3: S3Server, tmp_path: Path
) -> None:
    await load(pool, 120)
    version = await service.create(pool, new("stored"))
    bucket = s3.bucket()
    here = store_of(s3, tmp_path / "a", bucket)
    result = (await exports.export_dataset(pool, here, version.id, ExportFormat.OPENAI_CHAT, job_id="501")).to_json()
    recorded = await exports.exports_of(pool, version.id)
    assert [e.split for e in recorded] == [Split.TRAIN, Split.VALIDATION]
    assert await bucket_keys(s3, bucket) == {f"tuneyard/exports/{e.file_name}": e.size_bytes for e in recorded}
    for export in recorded:
        assert sha256(s3.read(bucket, f"tuneyard/exports/{export.file_name}")) == export.sha256
    assert list((tmp_path / "a" / "exports").iterdir()) == [], "the worker keeps no copy, nor a temporary file"

    there = store_of(s3, tmp_path / "b", bucket)
    for export in result["exports"]:
        found = await exports.export_file(pool, there, export["id"])
        assert found is not None and sha256(found[1].read_bytes()) == export["sha256"]
    train, validation = await exports.training_files(pool, there, version, ExportFormat.OPENAI_CHAT, Quiet(), "502")
    assert validation is not None and train.parent == tmp_path / "b" / "exports"
    assert [sha256(train.read_bytes()), sha256(validation.read_bytes())] == [e.sha256 for e in recorded]
    assert len(await exports.exports_of(pool, version.id)) == 2, "found in the bucket: not exported again"


async def test_a_retry_removes_what_a_killed_attempt_uploaded_without_recording(
    pool: asyncpg.Pool, s3: S3Server, tmp_path: Path
) -> None:
    await load(pool, 40)
    version = await service.create(pool, new("killed", fraction=0.0))
    bucket = s3.bucket()
    store = store_of(s3, tmp_path, bucket)
    store.local_dir.mkdir(parents=True)
    # The worker died after its upload completed and before the row was written: its temporary file and the
    # complete, unrecorded object are left.
    (store.local_dir / ".job-601-0123456789ab.part").write_bytes(b"all of it")
    orphan = f"{file_stem(version, ExportFormat.ALPACA, None)}-0123456789ab.jsonl"
    (tmp_path / "uploaded").write_bytes(b"all of it")
    await store.put_file(orphan, tmp_path / "uploaded")
    assert await store.exists(orphan)
    assert await exports.export_file(pool, store, "1") is None, "never served: no row names it"

    result = (await exports.export_dataset(pool, store, version.id, ExportFormat.ALPACA, job_id="601")).to_json()
    (export,) = await exports.exports_of(pool, version.id)
    assert set(await bucket_keys(s3, bucket)) == {f"tuneyard/exports/{export.file_name}"}
    assert list(store.local_dir.iterdir()) == []
    # Killed after recording: its temporary file names a recorded file, which stays.
    tag = export.file_name.removesuffix(".jsonl").rsplit("-", 1)[1]
    (store.local_dir / f".job-601-{tag}.part").write_bytes(b"")
    again = (await exports.export_dataset(pool, store, version.id, ExportFormat.ALPACA, job_id="601")).to_json()
    assert again["exports"] == result["exports"]
    assert set(await bucket_keys(s3, bucket)) == {f"tuneyard/exports/{export.file_name}"}, "only the recorded one"


async def test_a_run_interrupted_while_recording_leaves_nothing_stored(
    pool: asyncpg.Pool, s3: S3Server, tmp_path: Path
) -> None:
    await load(pool, 60)
    version = await service.create(pool, new("interrupted"))
    bucket = s3.bucket()
    store = store_of(s3, tmp_path, bucket)
    async with pool.acquire() as locker, locker.transaction():
        await locker.execute("LOCK TABLE dataset_exports IN EXCLUSIVE MODE")  # the recording waits for it
        task = asyncio.create_task(exports.export_dataset(pool, store, version.id, ExportFormat.RAW, job_id="701"))
        deadline = time.monotonic() + 30
        while len(await bucket_keys(s3, bucket)) < 2:
            assert time.monotonic() < deadline and not task.done(), "the files were never uploaded"
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.2)
        task.cancel()  # as a stopping worker does
        with pytest.raises(asyncio.CancelledError):
            await task
    assert await bucket_keys(s3, bucket) == {}
    assert list(store.local_dir.iterdir()) == []
    assert await exports.exports_of(pool, version.id) == []


async def test_an_export_written_before_object_storage_is_still_served_by_its_host(
    pool: asyncpg.Pool, s3: S3Server, tmp_path: Path
) -> None:
    await load(pool, 30)
    version = await service.create(pool, new("before", fraction=0.0))
    (written,) = (await exports.export_dataset(pool, tmp_path / "exports", version.id, ExportFormat.RAW)).exports
    bucket = s3.bucket()
    here = store_of(s3, tmp_path, bucket)  # the same TUNEYARD_HOME, now with a bucket
    found = await exports.export_download(pool, here, written.id)
    assert found is not None and found[1].path == tmp_path / "exports" / found[0].file_name
    assert sha256(found[1].path.read_bytes()) == written.sha256
    assert await exports.export_download(pool, store_of(s3, tmp_path / "other", bucket), written.id) is None, (
        "another host has neither the object nor the file"
    )
    assert await bucket_keys(s3, bucket) == {}, "nothing uploaded behind the user's back"


async def test_a_job_run_twice_keeps_one_set_of_objects(pool: asyncpg.Pool, s3: S3Server, tmp_path: Path) -> None:
    await load(pool, 50)
    version = await service.create(pool, new("twice"))
    bucket = s3.bucket()
    store = store_of(s3, tmp_path, bucket)
    first = (await exports.export_dataset(pool, store, version.id, ExportFormat.SHAREGPT, job_id="77")).to_json()
    second = (await exports.export_dataset(pool, store, version.id, ExportFormat.SHAREGPT, job_id="77")).to_json()
    assert first["exports"] == second["exports"]
    assert len(await bucket_keys(s3, bucket)) == 2


# Over HTTP: three `tuneyard serve` replicas on one database and one bucket, each with a TUNEYARD_HOME of its own;
# only A runs a worker. B redirects downloads, C streams them, D names a bucket that does not exist.


@dataclass
class Replicas:
    a: Server
    b: Server
    c: Server
    d: Server
    bucket: str
    homes: dict[str, Path]
    tokens: dict[str, str]


@pytest.fixture(scope="module")
def replicas(backing: tuple[str, str], s3: S3Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Replicas]:
    url = asyncio.run(create_database(backing[0]))
    bucket = s3.bucket()
    shared = {"TUNEYARD_QUEUE_NAMESPACE": f"tuneyard-st-{uuid.uuid4().hex[:12]}", **JOB_TEST_SETTINGS}
    homes = {name: tmp_path_factory.mktemp(f"replica-{name}") for name in "abcd"}

    def replica(name: str, downloads: str, **more: str) -> Server:
        storage = {**s3.env(bucket, downloads=downloads), **more}
        workers = {} if name == "a" else {"TUNEYARD_SERVE_WORKERS": "0"}
        return Server(service_env(url, backing[1], TUNEYARD_HOME=str(homes[name]), **shared, **storage, **workers))

    servers = [replica("a", "redirect"), replica("b", "redirect"), replica("c", "stream"),
               replica("d", "stream", TUNEYARD_STORAGE_URL="s3://no-such-bucket/tuneyard")]  # fmt: skip
    try:
        with ThreadPoolExecutor(len(servers)) as starting:  # they start side by side: each mostly waits
            list(starting.map(Server.start, servers))
        tokens = {role: tuneyard("token", "create", "--role", role, "--name", f"st {role}", env=servers[0].env).strip()
                  for role in ("READER", "CURATOR")}  # fmt: skip
        yield Replicas(servers[0], servers[1], servers[2], servers[3], bucket, homes, tokens)
    finally:
        for server in servers:
            server.stop()
        asyncio.run(drop_database(backing[0], url))


def get(server: Server, path: str, token: str, **options: Any) -> httpx.Response:
    return httpx.get(server.url + path, headers={"Authorization": f"Bearer {token}"}, **options)


def test_any_replica_serves_an_export_from_the_bucket(replicas: Replicas, s3: S3Server) -> None:
    curator = GraphQLClient(replicas.a.url, replicas.tokens["CURATOR"])
    rows = list(generate(150, seed=9, prefix=f"st-{uuid.uuid4().hex[:6]}"))
    curator.data(RECORD, {"examples": rows})
    where = {"executionId": {"in": [r["executionId"] for r in rows]}}
    version = curator.data(CREATE, {"input": {"name": "replicated", "where": where, "validationFraction": 0.2}})
    job = curator.data(EXPORT, {"id": version["createDataset"]["id"], "format": "OPENAI_CHAT"})["exportDataset"]
    done = curator.finished_job(JOB, job["id"], 60)
    assert done["status"] == "SUCCEEDED", done["error"]
    files = done["result"]["exports"]
    assert len(files) == 2
    keys = s3.keys(replicas.bucket)
    assert len(keys) == 2 and all(k.startswith("tuneyard/exports/") for k in keys)
    assert not list((replicas.homes["a"] / "exports").glob("*.jsonl")), "the worker's disk keeps no export file"

    token = replicas.tokens["READER"]
    for file in files:
        redirected = get(replicas.b, file["downloadUrl"], token)
        assert redirected.status_code == 307, redirected.text
        assert redirected.headers["location"].startswith(f"{s3.endpoint}/{replicas.bucket}/tuneyard/exports/")
        assert "X-Amz-Signature=" in redirected.headers["location"] and "X-Amz-Expires=300" in redirected.headers[
            "location"]  # fmt: skip
        assert redirected.headers["x-content-sha256"] == file["sha256"]
        fetched = get(replicas.b, file["downloadUrl"], token, follow_redirects=True)
        streamed = get(replicas.c, file["downloadUrl"], token)
        assert streamed.status_code == 200 and streamed.headers["content-length"] == str(file["sizeBytes"])
        assert streamed.headers["content-disposition"].startswith('attachment; filename="replicated-v1-openai_chat')
        for response in (fetched, streamed):
            assert sha256(response.content) == file["sha256"] and len(response.content) == file["sizeBytes"]
    for name in "bc":
        assert not (replicas.homes[name] / "exports").exists() or not list((replicas.homes[name] / "exports").iterdir())
    assert get(replicas.b, "/exports/999999", token).status_code == 404
    assert get(replicas.c, "/exports/999999", token).status_code == 404
    assert get(replicas.b, files[0]["downloadUrl"], "nope").status_code == 401

    unavailable = get(replicas.d, files[0]["downloadUrl"], token)
    assert (
        unavailable.status_code == 503 and "try again" in unavailable.text and "no-such-bucket" not in unavailable.text
    )
    deadline = time.monotonic() + 5
    while "the bucket 'no-such-bucket' does not exist" not in replicas.d.logs():
        assert time.monotonic() < deadline, replicas.d.logs()[-2000:]
        time.sleep(0.1)
