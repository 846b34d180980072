"""OpenAI's HTTP API for the calls tuneyard.providers.openai makes: files, fine-tuning jobs with their events and
checkpoints, and chat completions. Shapes follow OpenAI's API reference; training files are checked with OpenAI's
published rules for chat fine-tuning data, written here independently of Tuneyard's exporter so that the two check
each other.

A job moves one stage each time it is retrieved: validating_files -> queued -> running (one "metrics" event per
retrieve, `steps` of them) -> succeeded. A chat completion answers `answers[user message]` (else `default_answer`),
cut to its max_completion_tokens, a token being a word here, as its usage counts them. Tests steer it with
`fail_job_with`, `rate_limit_next`, `fail_next`, `steps`, `emit_metrics`, `filter_by_metadata` and `answers`, and read
what it received in `jobs`, `files`, `file_problems`, `created_jobs`, `completions` and `requests`.

State is changed only on the server's thread, one request at a time (one event loop); tests read it between their
own awaited calls.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.support.standins import StandIn

MIN_EXAMPLES = 10
# Text chat only, as Tuneyard exports it: OpenAI also takes tool calls ("tools", role "tool") and content parts
# (images), which this stand-in refuses so that an export sending them is noticed here first.
ROLES = frozenset(("system", "user", "assistant"))
MESSAGE_KEYS = frozenset(("role", "content", "name", "weight"))
FINAL = frozenset(("succeeded", "failed", "cancelled"))


def chat_file_problems(content: bytes, min_examples: int) -> list[str]:
    """What OpenAI's validation of a chat fine-tuning file would refuse in it."""
    try:
        lines = content.decode().splitlines()
    except UnicodeDecodeError:
        return ["file: not UTF-8"]
    problems = [f"line {number}: {problem}" for number, line in enumerate(lines, 1) for problem in _line_problems(line)]
    if len(lines) < min_examples:
        problems.append(f"file: {len(lines)} examples, at least {min_examples} are required")
    return problems


def _line_problems(line: str) -> list[str]:
    try:
        record = json.loads(line)
    except ValueError:
        return ["not JSON"]
    if not isinstance(record, dict) or set(record) != {"messages"}:
        return ["must be an object with exactly one key, messages"]
    messages = record["messages"]
    if not isinstance(messages, list) or not messages:
        return ["messages: must be a non-empty list"]
    problems = []
    for index, message in enumerate(messages):
        at = f"messages[{index}]"
        if not isinstance(message, dict):
            problems.append(f"{at}: must be an object")
            continue
        problems += [f"{at}.{key}: unrecognized key" for key in sorted(set(message) - MESSAGE_KEYS)]
        role = message.get("role")
        if role not in ROLES:
            problems.append(f"{at}.role: unrecognized role {role!r}")
        content = message.get("content")
        if not isinstance(content, str) or not content.strip():
            problems.append(f"{at}.content: must be a non-empty string")
        if "weight" in message and (role != "assistant" or message["weight"] not in (0, 1)):
            problems.append(f"{at}.weight: only assistant messages have one, 0 or 1")
    if not any(isinstance(m, dict) and m.get("role") == "assistant" for m in messages):
        problems.append("messages: no assistant message")
    return problems


def error(status: int, message: str, code: str | None = None, param: str | None = None, **headers: str) -> Response:
    """OpenAI's error shape."""
    kind = "requests" if status == 429 else "server_error" if status >= 500 else "invalid_request_error"
    body = {"error": {"message": message, "type": kind, "param": param, "code": code}}
    return JSONResponse(body, status, headers=headers)


def page(items: list[dict[str, Any]], request: Request) -> JSONResponse:
    """A cursor page of items (already newest first): `after` an id, `limit` of them."""
    after = request.query_params.get("after")
    ids = [item["id"] for item in items]
    start = ids.index(after) + 1 if after in ids else 0
    limit = int(request.query_params.get("limit", "20"))
    chosen = items[start : start + limit]
    return JSONResponse({"object": "list", "data": chosen, "has_more": start + limit < len(items)})


class OpenAIStandIn(StandIn):
    def __init__(self, api_key: str = "sk-standin-0123456789") -> None:
        self.api_key = api_key
        # Scenario
        self.fail_job_with: tuple[str, str] | None = None  # (code, message): a running job fails with it
        self.rate_limit_next = 0  # answer this many next requests with 429
        self.steps = 3
        self.emit_metrics = True  # False: a job reports its metrics only in its checkpoint
        self.filter_by_metadata = True  # False: the job listing ignores metadata[...] filters
        self.fail_next = 0  # answer this many next requests with 500
        self.answers: dict[str, str] = {}  # a chat completion's answer, by its user message
        self.default_answer = "I cannot say."
        # Records
        self.jobs: dict[str, dict[str, Any]] = {}
        self.files: dict[str, bytes] = {}
        self.file_purposes: dict[str, str] = {}
        self.file_problems: list[str] = []
        self.created_jobs = 0
        self.completions: list[dict[str, Any]] = []  # chat completion request bodies
        self.requests: list[tuple[str, str]] = []
        self._events: dict[str, list[dict[str, Any]]] = {}  # oldest first
        self._checkpoints: dict[str, list[dict[str, Any]]] = {}
        self._step: dict[str, int] = {}
        self._problems: dict[str, list[str]] = {}  # what its files' validation found
        self._count = 0
        jobs = "/v1/fine_tuning/jobs"
        routes = [
            Route("/v1/files", self._guarded(self.create_file), methods=["POST"]),
            Route(jobs, self._guarded(self.create_job), methods=["POST"]),
            Route(jobs, self._guarded(self.list_jobs), methods=["GET"]),
            Route(jobs + "/{id}", self._guarded(self.retrieve_job), methods=["GET"]),
            Route(jobs + "/{id}/events", self._guarded(self.list_events), methods=["GET"]),
            Route(jobs + "/{id}/checkpoints", self._guarded(self.list_checkpoints), methods=["GET"]),
            Route(jobs + "/{id}/cancel", self._guarded(self.cancel_job), methods=["POST"]),
            Route("/v1/chat/completions", self._guarded(self.create_completion), methods=["POST"]),
        ]
        super().__init__(Starlette(routes=routes))

    @property
    def api_url(self) -> str:
        """The SDK's base_url."""
        return f"{self.url}/v1"

    def _id(self, prefix: str) -> str:
        self._count += 1
        return f"{prefix}-{self._count:06d}"

    def _guarded(self, handler: Callable[[Request], Awaitable[Response]]) -> Callable[[Request], Awaitable[Response]]:
        """Logs the request, then answers a planned rate limit or a wrong key before the handler."""

        async def endpoint(request: Request) -> Response:
            self.requests.append((request.method, request.url.path))
            if self.rate_limit_next > 0:
                self.rate_limit_next -= 1
                # The SDK honours retry-after-ms before retry-after, and waits its own backoff when a delay is 0.
                return error(429, "Rate limit reached for requests", "rate_limit_exceeded",
                             **{"retry-after": "0", "retry-after-ms": "10"})  # fmt: skip
            if self.fail_next > 0:
                self.fail_next -= 1
                return error(500, "The server had an error while processing your request.", **{"retry-after-ms": "10"})
            given = request.headers.get("authorization", "").removeprefix("Bearer ")
            if given != self.api_key:
                # OpenAI masks most of a wrong key; quoting all of it checks that the provider redacts it.
                return error(401, f"Incorrect API key provided: {given}.", "invalid_api_key")
            return await handler(request)

        return endpoint

    async def create_file(self, request: Request) -> Response:
        # python-multipart (Starlette's form parser) is not a dependency: the standard library reads multipart too.
        head = f"Content-Type: {request.headers['content-type']}\r\n\r\n".encode()
        form = BytesParser(policy=HTTP).parsebytes(head + await request.body())
        parts = {part.get_param("name", header="content-disposition"): part for part in form.iter_parts()}
        if "file" not in parts or "purpose" not in parts:
            return error(400, "file and purpose are required", param="file")
        content = parts["file"].get_payload(decode=True)
        purpose = parts["purpose"].get_content().strip()
        file_id = self._id("file")
        self.files[file_id], self.file_purposes[file_id] = content, purpose
        return JSONResponse({
            "id": file_id, "object": "file", "bytes": len(content), "created_at": int(time.time()),
            "filename": parts["file"].get_filename(), "purpose": purpose, "status": "processed",
        })  # fmt: skip

    async def create_job(self, request: Request) -> Response:
        body = await request.json()
        if not isinstance(body.get("model"), str):
            return error(400, "model is required", param="model")
        for param in ("training_file", "validation_file"):
            file_id = body.get(param)
            if (file_id is not None or param == "training_file") and self.file_purposes.get(file_id) != "fine-tune":
                return error(400, f"invalid {param}: {file_id}", param=param)
        method = body.get("method", {})
        if method.get("type") != "supervised" or set(method) - {"type", "supervised"}:
            return error(400, f"unsupported method: {method}", param="method")
        given = method.get("supervised", {}).get("hyperparameters", {})
        if set(given) - {"n_epochs", "batch_size", "learning_rate_multiplier"}:
            return error(400, f"unknown hyperparameters: {given}", param="method")
        job_id = self._id("ftjob")
        self.created_jobs += 1
        checked = [(body["training_file"], MIN_EXAMPLES), (body.get("validation_file"), 1)]
        problems = [
            f"{file_id} {problem}"
            for file_id, least in checked
            if file_id
            for problem in chat_file_problems(self.files[file_id], least)
        ]
        self.file_problems += problems
        self._problems[job_id] = problems
        hyperparameters = {"n_epochs": "auto", "batch_size": "auto", "learning_rate_multiplier": "auto", **given}
        self.jobs[job_id] = {
            "object": "fine_tuning.job", "id": job_id, "model": body["model"], "created_at": int(time.time()),
            "finished_at": None, "fine_tuned_model": None, "organization_id": "org-tuneyard", "result_files": [],
            "status": "validating_files", "validation_file": body.get("validation_file"),
            "training_file": body["training_file"], "hyperparameters": hyperparameters,
            "method": {"type": "supervised", "supervised": {"hyperparameters": hyperparameters}},
            "trained_tokens": None, "error": None, "seed": body.get("seed", 42), "metadata": body.get("metadata"),
            "user_provided_suffix": body.get("suffix"), "estimated_finish": None, "integrations": [],
        }  # fmt: skip
        self._events[job_id], self._checkpoints[job_id], self._step[job_id] = [], [], 0
        self._event(job_id, f"Created fine-tuning job: {job_id}")
        self._event(job_id, f"Validating training file: {body['training_file']}")
        return JSONResponse(self.jobs[job_id])

    async def list_jobs(self, request: Request) -> Response:
        wanted = {
            key[len("metadata[") : -1]: value
            for key, value in request.query_params.items()
            if key.startswith("metadata[") and key.endswith("]") and self.filter_by_metadata
        }
        matching = [
            job
            for job in reversed(self.jobs.values())
            if all((job["metadata"] or {}).get(key) == value for key, value in wanted.items())
        ]
        return page(matching, request)

    async def retrieve_job(self, request: Request) -> Response:
        job = self.jobs.get(request.path_params["id"])
        if job is None:
            return self._not_found(request)
        self._advance(job)
        return JSONResponse(job)

    async def list_events(self, request: Request) -> Response:
        if request.path_params["id"] not in self.jobs:
            return self._not_found(request)
        return page(self._events[request.path_params["id"]][::-1], request)

    async def list_checkpoints(self, request: Request) -> Response:
        if request.path_params["id"] not in self.jobs:
            return self._not_found(request)
        return page(self._checkpoints[request.path_params["id"]][::-1], request)

    async def cancel_job(self, request: Request) -> Response:
        job = self.jobs.get(request.path_params["id"])
        if job is None:
            return self._not_found(request)
        if job["status"] in FINAL:
            return error(400, f"Job {job['id']} has already {job['status']}.", param="fine_tuning_job_id")
        self._finish(job, "cancelled", "Fine-tuning job cancelled")
        return JSONResponse(job)

    async def create_completion(self, request: Request) -> Response:
        body = await request.json()
        self.completions.append(body)
        messages, limit = body.get("messages"), body.get("max_completion_tokens", body.get("max_tokens"))
        if not isinstance(body.get("model"), str) or not isinstance(messages, list) or not messages:
            return error(400, "model and messages are required", param="messages")
        if any(not isinstance(m, dict) or m.get("role") not in ROLES or not isinstance(m.get("content"), str)
               for m in messages):  # fmt: skip
            return error(400, f"invalid messages: {messages}", param="messages")
        if limit is not None and (not isinstance(limit, int) or limit < 1):
            return error(400, f"invalid max_completion_tokens: {limit}", param="max_completion_tokens")
        user = next((m["content"] for m in reversed(messages) if m["role"] == "user"), "")
        answer = self.answers.get(user, self.default_answer).split()
        said = answer[:limit] if limit is not None else answer
        prompt = sum(len(m["content"].split()) for m in messages)
        return JSONResponse({
            "id": self._id("chatcmpl"), "object": "chat.completion", "created": int(time.time()),
            "model": body["model"], "system_fingerprint": "fp_standin", "service_tier": "default",
            "choices": [{
                "index": 0, "message": {"role": "assistant", "content": " ".join(said), "refusal": None,
                                        "annotations": []},
                "logprobs": None, "finish_reason": "length" if len(said) < len(answer) else "stop",
            }],
            "usage": {"prompt_tokens": prompt, "completion_tokens": len(said), "total_tokens": prompt + len(said)},
        })  # fmt: skip

    def _not_found(self, request: Request) -> Response:
        job_id = request.path_params["id"]
        return error(
            404, f"Could not find fine-tuning job {job_id}.", "fine_tuning_job_not_found", "fine_tuning_job_id"
        )

    def _event(self, job_id: str, message: str, level: str = "info", data: dict[str, Any] | None = None) -> None:
        self._events[job_id].append({
            "object": "fine_tuning.job.event", "id": self._id("ftevent"), "created_at": int(time.time()),
            "level": level, "message": message, "type": "metrics" if data else "message", "data": data or {},
        })  # fmt: skip

    def _finish(self, job: dict[str, Any], status: str, message: str, level: str = "info") -> None:
        job["status"], job["finished_at"] = status, int(time.time())
        self._event(job["id"], message, level)

    def _advance(self, job: dict[str, Any]) -> None:
        """One stage further, as a retrieve finds it."""
        job_id, status = job["id"], job["status"]
        if status == "validating_files":
            if problems := self._problems[job_id]:
                message = f"The job failed due to an invalid training file. {'; '.join(problems)}"
                job["error"] = {"code": "invalid_training_file", "param": "training_file", "message": message}
                self._finish(job, "failed", job["error"]["message"], "error")
            else:
                job["status"] = "queued"
                self._event(job_id, "Files validated, moving job to queued state")
        elif status == "queued":
            job["status"] = "running"
            self._event(job_id, "Fine-tuning job started")
        elif status == "running" and self.fail_job_with:
            code, message = self.fail_job_with
            job["error"] = {"code": code, "message": message, "param": None}
            self._finish(job, "failed", message, "error")
        elif status == "running" and self._step[job_id] < self.steps:
            self._step[job_id] = step = self._step[job_id] + 1
            if self.emit_metrics:
                loss = round(2.0 * 0.7**step, 4)
                data = {"step": step, "train_loss": loss, "total_steps": self.steps, "train_mean_token_accuracy": 0.5}
                self._event(job_id, f"Step {step}/{self.steps}: training loss={loss}", data=data)
        elif status == "running":
            self._succeed(job)

    def _succeed(self, job: dict[str, Any]) -> None:
        suffix = job["user_provided_suffix"] or "x"
        job["fine_tuned_model"] = model = f"ft:{job['model']}:tuneyard:{suffix}:{job['id']}"
        epochs = job["hyperparameters"]["n_epochs"]
        job["trained_tokens"] = len(self.files[job["training_file"]].split()) * (3 if epochs == "auto" else epochs)
        step = self._step[job["id"]]
        self._checkpoints[job["id"]].append({
            "object": "fine_tuning.job.checkpoint", "id": self._id("ftckpt"), "created_at": int(time.time()),
            "fine_tuned_model_checkpoint": f"{model}:ckpt-step-{step}", "fine_tuning_job_id": job["id"],
            "step_number": step, "metrics": {"step": step, "train_loss": round(2.0 * 0.7**step, 4)},
        })  # fmt: skip
        self._event(job["id"], f"New fine-tuned model created: {model}")
        self._finish(job, "succeeded", "The job has successfully completed")
