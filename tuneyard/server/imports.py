"""The two ways a JSONL file of examples comes in: `POST /import` (CURATOR) and `tuneyard import FILE`.

Both store the file under the home's imports folder, then start an IMPORT job (tuneyard.examples.imports) that
a worker runs; the CLI follows the job to its end.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import shutil
import sys
from pathlib import Path
from typing import BinaryIO

import asyncpg
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response

from tuneyard.core import queue as broker
from tuneyard.core.config import Settings
from tuneyard.core.db import create_pool
from tuneyard.core.errors import ForbiddenError, TuneyardError, UnauthenticatedError
from tuneyard.core.principal import Role, require
from tuneyard.core.redis import async_client
from tuneyard.examples.imports.service import incoming, start_import
from tuneyard.jobs import progress
from tuneyard.jobs import service as jobs
from tuneyard.jobs.models import Job
from tuneyard.server.edge import Edge, error_response, header, unauthenticated

MAX_UPLOAD_BYTES = 16 * 1024**3  # one file; a million typical examples take about 1 GiB
_WRITE_BYTES = 1024 * 1024  # the body is written to disk this much at a time (in a thread)
POLL_SECONDS = 0.5


def _job_json(job: Job) -> dict[str, object]:
    """The started job, as the upload's answer shows it."""
    return {"id": str(job.id), "kind": job.kind.value, "status": job.status.value}


async def upload(request: Request, edge: Edge) -> Response:
    """Store the body (the JSONL file, streamed to disk) and start its IMPORT job: 202 with the job."""
    try:
        principal = require(await edge.authenticate(request.scope), Role.CURATOR)
    except UnauthenticatedError as error:
        return unauthenticated(error)
    except ForbiddenError as error:
        return error_response(403, error.message, error.code)
    declared = header(request.scope, b"content-length")
    too_large = f"the file is over the limit of {MAX_UPLOAD_BYTES:,} bytes; split it"
    if declared.isdigit() and int(declared) > MAX_UPLOAD_BYTES:
        return error_response(413, too_large)
    try:
        async with incoming(edge.settings.home) as (path, file):
            size = await _receive(request, file)
    except ClientDisconnect:
        return Response(status_code=400)  # nobody is left to read it; the partial file is gone
    if not 0 < size <= MAX_UPLOAD_BYTES:
        await asyncio.to_thread(path.unlink)
        if size:
            return error_response(413, too_large)
        return error_response(400, "the body is empty: send the JSONL file (one example a line) as the body")
    try:
        job = await start_import(edge.pool, path, request.query_params.get("name") or "upload", principal.name)
    except TuneyardError as error:
        return error_response(503 if error.code == "UNAVAILABLE" else 400, error.message, error.code)
    return JSONResponse({"job": _job_json(job)}, 202)


async def _receive(request: Request, file: BinaryIO) -> int:
    """Write the body to `file` as it comes; its size, or MAX_UPLOAD_BYTES + 1 as soon as it is over the limit."""
    size, buffer = 0, bytearray()
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_UPLOAD_BYTES:
            return MAX_UPLOAD_BYTES + 1
        buffer += chunk
        if len(buffer) >= _WRITE_BYTES:
            await asyncio.to_thread(file.write, bytes(buffer))
            buffer.clear()
    await asyncio.to_thread(file.write, bytes(buffer))
    return size


def import_command(args: argparse.Namespace, settings: Settings, database_url: str, redis_url: str) -> int:
    """`tuneyard import FILE`: copy it into the imports folder, start its IMPORT job, follow it unless --detach."""
    source = Path(args.file)
    if not source.is_file():
        print(f"tuneyard: no such file: {source}", file=sys.stderr)
        return 2
    return asyncio.run(_import(settings, database_url, redis_url, source, args.detach))


def _copy(source: Path, target: BinaryIO) -> None:
    """Copy the user's file into the imports folder (blocking: run in a thread)."""
    with source.open("rb") as file:
        shutil.copyfileobj(file, target, _WRITE_BYTES)


async def _import(settings: Settings, database_url: str, redis_url: str, source: Path, detach: bool) -> int:
    """Copy, start and (unless detached) follow the import, with this process's queue, announcer and pool."""
    broker.configure(settings, redis_url)
    redis = async_client(redis_url)
    progress.configure(redis, settings.queue_namespace)
    pool = await create_pool(database_url, max_size=2)
    try:
        async with incoming(settings.home) as (path, file):
            await asyncio.to_thread(_copy, source, file)
        job = await start_import(pool, path, source.name, f"cli ({getpass.getuser()})")
        print(f"started IMPORT job {job.id} for {source}", file=sys.stderr)
        if detach:
            print(job.id)
            return 0
        return await _follow(pool, job)
    except TuneyardError as error:
        print(f"tuneyard: {error.message}", file=sys.stderr)
        return 1
    finally:
        await pool.close()
        await redis.aclose()
        broker.close()


async def _follow(pool: asyncpg.Pool, job: Job) -> int:
    """Print the job's progress until it ends; its result on stdout; exit status 0 only if it succeeded."""
    said = None
    while not job.status.final:
        await asyncio.sleep(POLL_SECONDS)
        found = await jobs.get(pool, job.id)
        assert found is not None
        job = found
        if job.message != said and not job.status.final:
            said = job.message
            print(f"{job.progress:4.0%} {job.message}", file=sys.stderr)
    result = job.result or {}
    if job.status.value == "SUCCEEDED":
        print(f"imported {result.get('inserted', 0):,} examples from {result.get('lines', 0):,} lines; "
              f"{result.get('skipped', 0):,} skipped (their executionId existed)")  # fmt: skip
        return 0
    print(f"IMPORT job {job.id} {job.status.value}: {job.error or job.message}", file=sys.stderr)
    for problem in result.get("problems", []):
        print(f"line {problem['line']}: {problem['field']}: {problem['message']}", file=sys.stderr)
    return 1
