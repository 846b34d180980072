"""Ollama's REST API for the calls tuneyard.providers.ollama makes: the model list, blobs, create from uploaded
safetensors files, and chat. Shapes follow Ollama's API documentation (docs/api.md) and its server: a blob's body must
hash to the digest in its path; create answers 400 before streaming for a request it cannot start (a bad name, a blob
never uploaded), and otherwise streams NDJSON progress, where a failure is a line `{"error": ...}` (with "status": the
HTTP code, as newer servers add it) after HTTP 200.

What create accepts is Ollama's safetensors import, written here independently of Tuneyard: a config.json whose
architecture is llama, and at least one *.safetensors file (the weights themselves are not read).

A chat answers `answers[user message]` (else `default_answer`), cut to its options.num_predict, a token being a word
here, as its counts are; it takes only `"stream": false` (Ollama streams by default), and only models it has.

Tests steer it with `fail_create_with`, `fail_blob_next`, `fail_next` and `answers`, and read what it received in
`blobs` (digest -> size), `created` (create request bodies), `chats` (chat request bodies), `requests` ((method,
path)) and `models` (name -> files, base models included).
State is changed only on the server's thread; tests read it between their own awaited calls.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from tests.support.standins import StandIn

DIGEST = re.compile(r"sha256[:-][0-9a-f]{64}")
# types/model/name.go: [namespace/]model[:tag]; letters, digits, "_", "-", "." (not in a namespace), no "..".
NAME = re.compile(r"(?:[\w-]+/)?[\w.-]+(?::[\w.-]+)?", re.ASCII)
LLAMA = frozenset(("LlamaForCausalLM", "llama"))


def error(status: int, message: str) -> JSONResponse:
    """Ollama's error shape."""
    return JSONResponse({"error": message}, status)


def tagged(name: str) -> str:
    """The name as Ollama lists it: ":latest" when it has no tag."""
    return name if ":" in name.rsplit("/", 1)[-1] else f"{name}:latest"


class OllamaStandIn(StandIn):
    def __init__(self, models: list[str] | None = None) -> None:
        # Scenario
        self.fail_create_with: str | None = None  # create streams this error after it starts converting
        self.fail_blob_next = 0  # answer this many next blob uploads with 500
        self.fail_next = 0  # answer this many next requests with 500
        self.answers: dict[str, str] = {}  # a chat's answer, by its user message
        self.default_answer = "I cannot say."
        # Records
        self.blobs: dict[str, int] = {}  # digest ("sha256:<hex>") -> size
        self.created: list[dict[str, Any]] = []
        self.chats: list[dict[str, Any]] = []
        self.requests: list[tuple[str, str]] = []
        self.models: dict[str, dict[str, str]] = {tagged(name): {} for name in models or []}
        self._contents: dict[str, bytes] = {}
        self._modified: dict[str, str] = dict.fromkeys(self.models, datetime.now(UTC).isoformat())
        routes = [
            Route("/api/tags", self._logged(self.tags), methods=["GET"]),
            Route("/api/blobs/{digest}", self._logged(self.head_blob), methods=["HEAD"]),
            Route("/api/blobs/{digest}", self._logged(self.create_blob), methods=["POST"]),
            Route("/api/create", self._logged(self.create), methods=["POST"]),
            Route("/api/chat", self._logged(self.chat), methods=["POST"]),
        ]
        super().__init__(Starlette(routes=routes))

    def _logged(self, handler: Callable[[Request], Awaitable[Response]]) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            self.requests.append((request.method, request.url.path))
            if self.fail_next > 0:
                self.fail_next -= 1
                return error(500, "llama runner process has terminated: exit status 2")
            return await handler(request)

        return endpoint

    async def tags(self, request: Request) -> Response:
        listed = []
        for name, files in self.models.items():
            size = sum(self.blobs[digest] for digest in files.values()) or 1_321_098_329
            details = {
                "parent_model": "", "format": "gguf", "family": "llama", "families": ["llama"],
                "parameter_size": "1.2B", "quantization_level": "Q8_0",
            }  # fmt: skip
            manifest = hashlib.sha256(json.dumps([name, files], sort_keys=True).encode()).hexdigest()
            listed.append({
                "name": name, "model": name, "modified_at": self._modified[name], "size": size, "digest": manifest,
                "details": details,
            })  # fmt: skip
        return JSONResponse({"models": listed})

    async def head_blob(self, request: Request) -> Response:
        return Response(status_code=200 if self._digest(request) in self.blobs else 404)

    async def create_blob(self, request: Request) -> Response:
        digest = self._digest(request)
        if not DIGEST.fullmatch(request.path_params["digest"]):
            return error(400, "invalid digest format")
        if digest in self.blobs:
            return Response(status_code=200)
        if self.fail_blob_next > 0:
            self.fail_blob_next -= 1
            return error(500, "write /root/.ollama/models/blobs/sha256-partial: no space left on device")
        content = b"".join([chunk async for chunk in request.stream()])
        got = f"sha256:{hashlib.sha256(content).hexdigest()}"
        if got != digest:
            return error(400, f"digest mismatch, expected {digest!r}, got {got!r}")
        self.blobs[digest], self._contents[digest] = len(content), content
        return Response(status_code=201)

    async def create(self, request: Request) -> Response:
        body = await request.json()
        self.created.append(body)
        name, files = body.get("model") or body.get("name") or "", body.get("files")
        if not NAME.fullmatch(name) or ".." in name or len(name) > 128:
            return error(400, "invalid model name")
        if not isinstance(files, dict) or not files:
            return error(400, "neither 'from' or 'files' was specified")
        for file, digest in files.items():
            if not DIGEST.fullmatch(digest):
                return error(400, f"invalid digest for {file}: invalid digest format")
            if digest.replace("-", ":", 1) not in self.blobs:
                return error(400, f"blob not found for {file} (digest {digest}): file does not exist")
        normalized = {file: digest.replace("-", ":", 1) for file, digest in files.items()}
        return StreamingResponse(self._progress(tagged(name), normalized), media_type="application/x-ndjson")

    async def _progress(self, name: str, files: dict[str, str]) -> AsyncIterator[str]:
        """Ollama's progress lines for a safetensors import, or the error its converter would give."""
        if not any(file.endswith(".safetensors") for file in files):
            yield line({"error": "unknown type", "status": 400})
            return
        yield line({"status": "converting model"})
        problem = self.fail_create_with or self._config_problem(files)
        if problem:
            yield line({"error": problem, "status": 400})
            return
        converted = hashlib.sha256("".join(sorted(files.values())).encode()).hexdigest()
        yield line({"status": f"creating new layer sha256:{converted}"})
        yield line({"status": "writing manifest"})
        self.models[name], self._modified[name] = files, datetime.now(UTC).isoformat()
        yield line({"status": "success"})

    async def chat(self, request: Request) -> Response:
        body = await request.json()
        self.chats.append(body)
        name, messages = tagged(body.get("model") or ""), body.get("messages")
        if name not in self.models:
            return error(404, f'model "{body.get("model")}" not found, try pulling it first')
        if body.get("stream", True) is not False:
            return error(400, "this stand-in answers only with stream: false")
        if not isinstance(messages, list) or any(
            not isinstance(m, dict) or m.get("role") not in ("system", "user", "assistant") for m in messages
        ):
            return error(400, "invalid message format")
        user = next((m.get("content", "") for m in reversed(messages) if m["role"] == "user"), "")
        answer = self.answers.get(user, self.default_answer).split()
        limit = (body.get("options") or {}).get("num_predict", -1)  # -1: no limit
        said = answer[:limit] if limit >= 0 else answer
        return JSONResponse({
            "model": name, "created_at": datetime.now(UTC).isoformat(), "done": True,
            "message": {"role": "assistant", "content": " ".join(said)},
            "done_reason": "length" if len(said) < len(answer) else "stop",
            "total_duration": 2_000_000, "load_duration": 0, "prompt_eval_duration": 1_000_000,
            "prompt_eval_count": sum(len(m.get("content", "").split()) for m in messages),
            "eval_count": len(said), "eval_duration": 1_000_000,
        })  # fmt: skip

    def _config_problem(self, files: dict[str, str]) -> str | None:
        if "config.json" not in files:
            return "open config.json: file does not exist"
        try:
            config = json.loads(self._contents[files["config.json"]])
        except ValueError as exc:
            return f"config.json: {exc}"
        architecture = (config.get("architectures") or [config.get("model_type")])[0]
        return None if architecture in LLAMA else f"unsupported architecture {architecture!r}"

    @staticmethod
    def _digest(request: Request) -> str:
        """The path's digest as the blobs are keyed (Ollama takes "sha256-" for "sha256:" too)."""
        return str(request.path_params["digest"]).replace("-", ":", 1)


def line(progress: dict[str, Any]) -> str:
    return json.dumps(progress) + "\n"
