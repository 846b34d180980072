"""Ollama: serves models, trains none (see catalog.OLLAMA). Tuneyard imports a LOCAL fine-tune's merged model into
the configured server, and asks it for answers, over its REST API:

- `GET /api/tags`: the models it has (its "base models").
- `HEAD /api/blobs/sha256:<hex>`: 200 when the server already holds a file with that digest, so a second import of
  the same files uploads nothing.
- `POST /api/blobs/sha256:<hex>`: the raw file as the body (streamed: weights are hundreds of MB); the server
  checks the digest and answers 201.
- `POST /api/create` with `{"model", "files": {file name: digest}, "stream": true}`: NDJSON progress lines
  (`{"status": ...}`) ending with "success", or a line `{"error": ...}`.
- `POST /api/chat` with `{"model", "messages", "stream": false, "options": {"temperature": 0, "num_predict"}}`: one
  answer, `{"message": {"content"}, "prompt_eval_count", "eval_count", ...}`. Servers older than mid-2024 leave
  prompt_eval_count out when the prompt was in their cache: the count is unknown (None) then, not zero.

Ollama converts merged safetensors of llama-architecture models (config.json, tokenizer files, *.safetensors). A
LoRA adapter alone is refused by some versions and needs a base the server has under the same architecture, so
Tuneyard always sends a merged model.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, NamedTuple

import httpx

from tuneyard.core.config import Settings
from tuneyard.core.errors import ValidationError
from tuneyard.providers import catalog
from tuneyard.providers.base import ProviderError, ProviderModule, redact
from tuneyard.providers.local.stored import model_folder
from tuneyard.providers.models import BaseModelFacts, Completion

Report = Callable[[str, float | None], Awaitable[None]]

CHUNK = 1024 * 1024
# Ollama's name rules (types/model/name.go): [namespace/]model[:tag], parts of letters, digits, "_", "-" and "."
# (none in a namespace), at most 128 characters in all.
_PART = r"[A-Za-z0-9][A-Za-z0-9_.-]*"
NAME = re.compile(rf"(?:[A-Za-z0-9][A-Za-z0-9_-]*/)?{_PART}(?::{_PART})?")
MAX_NAME_LENGTH = 128


class ModelFile(NamedTuple):
    path: Path
    digest: str  # "sha256:<hex>", as Ollama names blobs
    size: int


class OllamaProvider(ProviderModule):
    facts = catalog.OLLAMA

    def missing_settings(self, settings: Settings) -> list[str]:
        return [] if settings.ollama_url is not None else ["set TUNEYARD_OLLAMA_URL"]

    async def base_models(self, settings: Settings) -> list[BaseModelFacts]:
        """The models the server has now; none can be fine-tuned there."""
        async with _connection(settings) as client:
            response = await client.get("/api/tags")
            _check(response, settings)
            models = response.json()["models"]
        return [BaseModelFacts(name=model["name"], can_fine_tune=False) for model in models]

    async def complete(self, settings: Settings, model: str, system: str, user: str, max_tokens: int) -> Completion:
        body = {
            "model": model, "messages": [{"role": "system", "content": system}, {"role": "user", "content": user}],
            "stream": False, "options": {"temperature": 0, "num_predict": max_tokens},
        }  # fmt: skip
        started = time.perf_counter()
        async with _connection(settings) as client:
            response = await client.post("/api/chat", json=body)  # the first call of a model waits for it to load
            _check(response, settings)
            answer = response.json()
        return Completion(
            text=answer["message"]["content"],
            input_tokens=answer.get("prompt_eval_count"),
            output_tokens=answer.get("eval_count"),
            seconds=time.perf_counter() - started,
        )


async def push(settings: Settings, name: str, model_dir: Path, report: Report) -> str:
    """Import the files of model_dir (a merged model; not its subfolders or hidden files) as the model `name`; the
    name as Ollama lists it. Progress goes to report(status, fraction of the work or None). A LOCAL fine-tune's
    folder that this host lacks (made on another worker) is fetched from object storage first."""
    _check_name(name)
    model_dir = await model_folder(settings, model_dir)
    files = await asyncio.to_thread(_model_files, model_dir)
    if not files:
        raise ProviderError(f"{model_dir} holds no files to import into Ollama")
    async with _connection(settings) as client:
        await _upload(client, settings, files, report)
        digests = {file.path.name: file.digest for file in files}
        await _create(client, settings, {"model": name, "files": digests, "stream": True}, report)
    return name if ":" in name.split("/")[-1] else f"{name}:latest"


def _check_name(name: str) -> None:
    if len(name) > MAX_NAME_LENGTH or ".." in name or not NAME.fullmatch(name):
        raise ValidationError(
            f"input.extra.ollamaModel: {name!r} is not an Ollama model name: [namespace/]model[:tag], each part letters, "
            f"digits, '_', '-' and '.' (no '.' in a namespace), starting with a letter or digit, "
            f"{MAX_NAME_LENGTH} characters at most"
        )


async def _upload(client: httpx.AsyncClient, settings: Settings, files: list[ModelFile], report: Report) -> None:
    """Send each file the server does not hold yet; fractions count the bytes of all files, held ones as done."""
    total, done = sum(file.size for file in files) or 1, 0
    for file in files:
        blob = f"/api/blobs/{file.digest}"
        held = await client.head(blob)
        if held.status_code != 200:
            await report(f"uploading {file.path.name} ({_size(file.size)})", done / total)
            sent = await client.post(blob, content=_chunks(file.path), headers={"Content-Length": str(file.size)})
            _check(sent, settings)
        done += file.size


async def _create(client: httpx.AsyncClient, settings: Settings, body: dict[str, Any], report: Report) -> None:
    async with client.stream("POST", "/api/create", json=body) as response:
        if response.status_code != 200:
            await response.aread()
            _check(response, settings)
        status: str | None = None
        async for line in response.aiter_lines():
            progress = json.loads(line) if line.strip() else {}
            # An error line may also carry "status": the HTTP code Ollama would have answered, not a word.
            if "error" in progress:
                message = f"Ollama refused to create {body['model']}: {progress['error']}"
                raise ProviderError(redact(message, settings))
            if progress.get("status"):
                status = progress["status"]
                total, completed = progress.get("total"), progress.get("completed")
                await report(status, completed / total if total and completed is not None else None)
    if status != "success":
        message = f"Ollama's create of {body['model']} ended without success (last status: {status})"
        raise ProviderError(redact(message, settings), retryable=True)


def _model_files(model_dir: Path) -> list[ModelFile]:
    """The directory's files (not its subfolders, nor hidden files) with their digests: slow for large weights."""
    paths = sorted(p for p in model_dir.iterdir() if p.is_file() and not p.name.startswith("."))
    return [ModelFile(path, _sha256(path), path.stat().st_size) for path in paths]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(CHUNK):
            digest.update(chunk)
    return f"sha256:{digest.hexdigest()}"


async def _chunks(path: Path) -> AsyncIterator[bytes]:
    """The file's bytes, read in a thread chunk by chunk, so that a large file is never held in memory."""
    file = await asyncio.to_thread(path.open, "rb")
    try:
        while chunk := await asyncio.to_thread(file.read, CHUNK):
            yield chunk
    finally:
        file.close()


def _size(size: int) -> str:
    """Bytes as Ollama shows them (decimal units)."""
    amount = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if amount < 1000:
            return f"{amount:.0f} {unit}" if unit == "B" else f"{amount:.1f} {unit}"
        amount /= 1000
    return f"{amount:.1f} TB"


def _check(response: httpx.Response, settings: Settings) -> None:
    """A refusal as a ProviderError with Ollama's own message (`{"error": ...}`); 429 and 5xx are retryable."""
    if response.is_success:
        return
    try:
        why = response.json()["error"]
    except (ValueError, KeyError, TypeError):
        why = response.text.strip() or response.reason_phrase
    request = response.request
    message = f"Ollama refused {request.method} {request.url.path}: {response.status_code} {why}"
    raise ProviderError(redact(message, settings), response.status_code == 429 or response.status_code >= 500)


@asynccontextmanager
async def _connection(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the configured server; httpx's failures within as ProviderErrors naming it: a lost or refused
    connection is retryable, a URL that cannot work is not."""
    if settings.ollama_url is None:
        raise ProviderError("Ollama is not configured: set TUNEYARD_OLLAMA_URL")
    try:
        async with httpx.AsyncClient(base_url=settings.ollama_url, timeout=httpx.Timeout(60, read=600)) as client:
            yield client
    except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
        message = f"TUNEYARD_OLLAMA_URL {settings.ollama_url} is not usable: {exc}"
        raise ProviderError(redact(message, settings)) from None
    except httpx.TransportError as exc:
        message = f"Ollama at {settings.ollama_url} could not be reached: {exc!r}"
        raise ProviderError(redact(message, settings), retryable=True) from None
