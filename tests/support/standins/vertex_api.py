"""Vertex AI's tuningJobs and generateContent APIs and Cloud Storage's JSON API, for the calls
tuneyard.providers.vertex makes through google-genai and google-cloud-storage, on one server:

- Vertex AI under `vertex_url` (the genai client's base_url): `POST /v1/projects/{p}/locations/{l}/tuningJobs`,
  `GET` of the collection (a `labels.KEY="VALUE"` filter) and of one job, `POST .../tuningJobs/{id}:cancel`;
  `POST .../publishers/google/models/{model}:generateContent` (a base model) and `POST .../endpoints/{id}:
  generateContent` (a tuned model, once its job has succeeded);
- Cloud Storage at the root (the storage client's api_endpoint): `POST /upload/storage/v1/b/{bucket}/o` with
  `uploadType=multipart` (files up to 8 MiB) or `resumable` (larger: a session, then `PUT` of its chunks);
- `POST /token`: Google's OAuth token endpoint for service account keys (a signed JWT for an access token).

Every call needs `Authorization: Bearer` with a token of `tokens`. Training files are checked with Vertex's published
rules for Gemini supervised tuning data, written here independently of Tuneyard's exporter so that the two check each
other; a job whose file breaks them fails. A job moves one stage each time it is read: through `stages` (queued,
pending, running twice, succeeded). generateContent answers `answers[user text]` (else `default_answer`), cut to
its maxOutputTokens, a token being a word here, as its usage counts them (`thoughts_tokens` more are reported as
thinking). Tests steer it with `fail_job_with`, `fail_upload_next`, `rate_limit_next`, `fail_next`, `stages`, `answers`
and `thoughts_tokens`, and read what it received in `jobs`, `objects`, `file_problems`, `created_jobs`,
`list_filters`, `generated` ((model, request body)) and `requests`.

State is changed only on the server's thread, one request at a time (one event loop); tests read it between their
own awaited calls.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

import google_crc32c
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.support.standins import StandIn

STAGES = ("JOB_STATE_QUEUED", "JOB_STATE_PENDING", "JOB_STATE_RUNNING", "JOB_STATE_RUNNING", "JOB_STATE_SUCCEEDED")
SUCCEEDED = frozenset(("JOB_STATE_SUCCEEDED", "JOB_STATE_PARTIALLY_SUCCEEDED"))
FINAL = SUCCEEDED | {"JOB_STATE_FAILED", "JOB_STATE_CANCELLED", "JOB_STATE_EXPIRED"}
BASE_MODELS = frozenset(("gemini-2.5-flash", "gemini-2.5-flash-lite", "gemini-2.5-pro"))
ADAPTER_SIZES = frozenset(("ADAPTER_SIZE_ONE", "ADAPTER_SIZE_TWO", "ADAPTER_SIZE_FOUR", "ADAPTER_SIZE_EIGHT",
                           "ADAPTER_SIZE_SIXTEEN"))  # fmt: skip
JOB_KEYS = frozenset(("baseModel", "supervisedTuningSpec", "tunedModelDisplayName", "description", "labels"))
SPEC_KEYS = frozenset(("trainingDatasetUri", "validationDatasetUri", "hyperParameters"))
# batchSize and learningRate exist in the API, for open models only.
HYPER_KEYS = frozenset(("epochCount", "learningRateMultiplier", "adapterSize"))
LABEL = re.compile(r"[a-z][a-z0-9_-]{0,62}")
LABEL_VALUE = re.compile(r"[a-z0-9_-]{0,63}")
LABEL_FILTER = re.compile(r'labels\.([a-z][a-z0-9_-]*)\s*=\s*(?:"([^"]*)"|([a-z0-9_-]*))')
GS_URI = re.compile(r"gs://([^/]+)/(.+)")
CONTENT_RANGE = re.compile(r"bytes (?:(\d+)-(\d+)|\*)/(\d+|\*)")
SCOPE = "https://www.googleapis.com/auth/cloud-platform"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
AUDIENCE = "https://oauth2.googleapis.com/token"  # what a key's JWT is for, wherever its token_uri points


def gemini_file_problems(content: bytes) -> list[str]:
    """What Vertex's validation of a Gemini supervised tuning file would refuse in it."""
    try:
        lines = content.decode().splitlines()
    except UnicodeDecodeError:
        return ["file: not UTF-8"]
    problems = [f"line {number}: {problem}" for number, line in enumerate(lines, 1) for problem in _line_problems(line)]
    return problems if lines else ["file: no examples"]


def _line_problems(line: str) -> list[str]:
    try:
        record = json.loads(line)
    except ValueError:
        return ["not JSON"]
    if not isinstance(record, dict) or "contents" not in record:
        return ["must be an object with contents"]
    problems = [f"{key}: unknown field" for key in sorted(set(record) - {"contents", "systemInstruction"})]
    if "systemInstruction" in record:
        instruction = record["systemInstruction"]
        if not isinstance(instruction, dict) or set(instruction) - {"role", "parts"}:
            problems.append("systemInstruction: must be an object of role (optional) and parts")
        else:
            if not isinstance(instruction.get("role", ""), str):
                problems.append("systemInstruction.role: must be a string")
            problems += _parts_problems(instruction.get("parts"), "systemInstruction.parts")
    contents = record["contents"]
    if not isinstance(contents, list) or not contents:
        return [*problems, "contents: must be a non-empty list"]
    for index, content in enumerate(contents):
        at = f"contents[{index}]"
        if not isinstance(content, dict) or set(content) != {"role", "parts"}:
            problems.append(f"{at}: must be an object of exactly role and parts")
            continue
        expected = "user" if index % 2 == 0 else "model"
        if content["role"] != expected:
            problems.append(f"{at}.role: must be {expected!r} (turns alternate user, model), got {content['role']!r}")
        problems += _parts_problems(content["parts"], f"{at}.parts")
    if len(contents) % 2:
        problems.append("contents: the last turn must be the model's")
    return problems


def _parts_problems(parts: Any, at: str) -> list[str]:
    if not isinstance(parts, list) or not parts:
        return [f"{at}: must be a non-empty list"]
    problems = []
    for index, part in enumerate(parts):
        if not isinstance(part, dict) or set(part) != {"text"}:
            problems.append(f"{at}[{index}]: must be an object of exactly text")
        elif not isinstance(part["text"], str) or not part["text"].strip():
            problems.append(f"{at}[{index}].text: must be a non-empty string")
    return problems


def _generate_problem(body: dict[str, Any]) -> str | None:
    """Why Vertex would refuse a generateContent request of one text turn, if it would."""
    contents = body.get("contents")
    if not isinstance(contents, list) or not contents:
        return "contents: must be a non-empty list"
    turns = [*contents, body["systemInstruction"]] if "systemInstruction" in body else contents
    for turn in turns:
        problems = _parts_problems(turn.get("parts") if isinstance(turn, dict) else None, "parts")
        if problems:
            return problems[0]
    if contents[-1].get("role") != "user":
        return "contents: the last turn must be the user's"
    config = body.get("generationConfig", {})
    temperature, limit = config.get("temperature", 1.0), config.get("maxOutputTokens", 1)
    if not 0 <= temperature <= 2 or not isinstance(limit, int) or limit < 1:
        return f"generationConfig: temperature from 0 to 2 and maxOutputTokens from 1, got {config}"
    return None


def words(content: bytes) -> int:
    """The stand-in's billable tokens of a valid file: the words of its texts (Vertex counts Gemini tokens)."""
    records = [json.loads(line) for line in content.decode().splitlines()]
    turns = [turn for record in records for turn in [record.get("systemInstruction"), *record["contents"]] if turn]
    return sum(len(part["text"].split()) for turn in turns for part in turn["parts"])


def error(status: int, code: str, message: str) -> JSONResponse:
    """Google's error shape (google.rpc.Status in JSON)."""
    return JSONResponse({"error": {"code": status, "message": message, "status": code}}, status)


def now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode()


def unpadded_b64(text: str) -> bytes:
    """JWT's base64url, which drops the padding."""
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def crc32c(data: bytes) -> str:
    """Cloud Storage's crc32c: the big-endian CRC-32C, in base64."""
    return b64(google_crc32c.value(data).to_bytes(4, "big"))


def multipart_parts(body: bytes, boundary: bytes) -> list[tuple[dict[str, str], bytes]]:
    """The (headers, content) of each part of a multipart/related body, content byte for byte."""
    parts = []
    for chunk in body.split(b"--" + boundary)[1:-1]:
        head, _, content = chunk.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        headers = dict(line.split(": ", 1) for line in head.decode().split("\r\n") if line)
        parts.append(({k.lower(): v for k, v in headers.items()}, content.removesuffix(b"\r\n")))
    return parts


@dataclass
class StandInJob:
    """A tuning job: `resource` is what Vertex answers; the rest is how it will move on."""

    resource: dict[str, Any]
    problems: list[str]
    fail_with: str | None
    billable: int = 0  # tokens, once its training file is read
    examples: int = 0
    stage: int = 0


@dataclass
class Upload:
    """A resumable upload session."""

    bucket: str
    metadata: dict[str, Any]
    content_type: str
    received: bytearray = field(default_factory=bytearray)


class VertexStandIn(StandIn):
    def __init__(
        self, project: str = "tuneyard-test", location: str = "us-central1", bucket: str = "tuneyard-test-bucket",
        token: str = "ya29.standin-token-0123456789",
    ) -> None:  # fmt: skip
        self.project, self.location, self.bucket = project, location, bucket
        self.tokens = {token}  # accepted bearer tokens (service accounts' are added as issued)
        self.service_accounts: dict[str, rsa.RSAPublicKey] = {}  # client_email -> its key's public half
        # Scenario
        self.stages: tuple[str, ...] = STAGES  # the states a job passes through, one per read
        self.fail_job_with: str | None = None  # a job created while set fails with it where it would succeed
        self.fail_upload_next = 0  # answer this many next upload requests with 503
        self.rate_limit_next = 0  # answer this many next Vertex calls with 429
        self.fail_next = 0  # answer this many next Vertex calls with 503
        self.answers: dict[str, str] = {}  # generateContent's answer, by the user's text
        self.default_answer = "I cannot say."
        self.thoughts_tokens = 0  # thinking tokens each answer reports (Gemini 2.5 thinks by default)
        # Records
        self.jobs: dict[str, StandInJob] = {}  # by name (projects/.../tuningJobs/N)
        self.objects: dict[str, bytes] = {}  # by object name, in `bucket`
        self.object_types: dict[str, str] = {}  # their contentType
        self.file_problems: list[str] = []
        self.created_jobs: list[dict[str, Any]] = []  # the bodies of create calls
        self.list_filters: list[str | None] = []  # the filter of each list call
        self.generated: list[tuple[str, dict[str, Any]]] = []  # (model or endpoint name, body) of generateContent
        self.requests: list[tuple[str, str]] = []
        self._uploads: dict[str, Upload] = {}
        self._generations: dict[str, int] = {}
        parent = "/vertex/v1/projects/{project}/locations/{location}"
        jobs = parent + "/tuningJobs"
        uploads = "/upload/storage/v1/b/{bucket}/o"
        routes = [
            Route(jobs, self._vertex(self.create_job), methods=["POST"]),
            Route(jobs, self._vertex(self.list_jobs), methods=["GET"]),
            Route(jobs + "/{id}:cancel", self._vertex(self.cancel_job), methods=["POST"]),
            Route(jobs + "/{id}", self._vertex(self.get_job), methods=["GET"]),
            Route(
                parent + "/publishers/google/models/{model}:generateContent",
                self._vertex(self.generate),
                methods=["POST"],
            ),
            Route(parent + "/endpoints/{endpoint}:generateContent", self._vertex(self.generate), methods=["POST"]),
            Route(uploads, self._storage(self.upload, uploading=True), methods=["POST"]),
            Route(uploads, self._storage(self.upload_chunk, uploading=True), methods=["PUT"]),
            Route("/token", self.token, methods=["POST"]),
        ]
        super().__init__(Starlette(routes=routes))

    @property
    def vertex_url(self) -> str:
        """TUNEYARD_VERTEX_BASE_URL."""
        return f"{self.url}/vertex/"

    @property
    def gcs_url(self) -> str:
        """TUNEYARD_GCS_BASE_URL."""
        return self.url

    @property
    def token_url(self) -> str:
        """The token_uri of a service account key."""
        return f"{self.url}/token"

    def _authorized(self, request: Request) -> str | None:
        """None when the request carries an accepted token, else what it carried."""
        given = request.headers.get("authorization", "").removeprefix("Bearer ")
        return None if given in self.tokens else given

    def _vertex(self, handler: Callable[[Request], Awaitable[Response]]) -> Callable[[Request], Awaitable[Response]]:
        """Logs the request, then answers a planned rate limit, a wrong token or another project before the handler."""

        async def endpoint(request: Request) -> Response:
            self.requests.append((request.method, request.url.path))
            if self.rate_limit_next > 0:
                self.rate_limit_next -= 1
                return error(429, "RESOURCE_EXHAUSTED", "Quota exceeded for aiplatform.googleapis.com/tuning_jobs.")
            if self.fail_next > 0:
                self.fail_next -= 1
                return error(503, "UNAVAILABLE", "The service is currently unavailable.")
            wrong = self._authorized(request)
            if wrong is not None:
                # Vertex does not echo the token; quoting it checks that the provider redacts it.
                return error(401, "UNAUTHENTICATED", f"Request had invalid authentication credentials: {wrong}")
            project, location = request.path_params["project"], request.path_params["location"]
            if (project, location) != (self.project, self.location):
                return error(403, "PERMISSION_DENIED", f"Permission denied on projects/{project}/locations/{location}")
            return await handler(request)

        return endpoint

    def _storage(
        self, handler: Callable[[Request], Awaitable[Response]], uploading: bool = False
    ) -> Callable[[Request], Awaitable[Response]]:
        """Logs the request, then answers a planned 503 (uploads), a wrong token or another bucket."""

        async def endpoint(request: Request) -> Response:
            self.requests.append((request.method, request.url.path))
            if uploading and self.fail_upload_next > 0:
                self.fail_upload_next -= 1
                return error(503, "UNAVAILABLE", "Backend Error")
            if self._authorized(request) is not None:
                return error(401, "UNAUTHENTICATED", "Invalid Credentials")
            if request.path_params["bucket"] != self.bucket:
                return error(404, "NOT_FOUND", "The specified bucket does not exist.")
            return await handler(request)

        return endpoint

    # Vertex AI

    async def create_job(self, request: Request) -> Response:
        body = await request.json()
        self.created_jobs.append(body)
        refused = self._job_problem(body)
        if refused:
            return error(400, "INVALID_ARGUMENT", refused)
        spec = body["supervisedTuningSpec"]
        problems = []
        for uri in (spec["trainingDatasetUri"], spec.get("validationDatasetUri")):
            if uri is not None:
                found = GS_URI.fullmatch(uri)
                if not found or found[1] != self.bucket or found[2] not in self.objects:
                    return error(400, "INVALID_ARGUMENT", f"Dataset {uri} does not exist or is not readable.")
                problems += [f"{uri}: {problem}" for problem in gemini_file_problems(self.objects[found[2]])]
        self.file_problems += problems
        name = f"projects/{self.project}/locations/{self.location}/tuningJobs/{len(self.jobs) + 7_000_001}"
        resource = {
            "name": name, "baseModel": body["baseModel"], "supervisedTuningSpec": spec,
            "tunedModelDisplayName": body.get("tunedModelDisplayName", name.rsplit("/", 1)[1]),
            "labels": body.get("labels", {}), "state": self.stages[0], "createTime": now(), "updateTime": now(),
        }  # fmt: skip
        job = StandInJob(resource, problems, self.fail_job_with)
        if not problems:
            train = self.objects[spec["trainingDatasetUri"].removeprefix(f"gs://{self.bucket}/")]
            job.billable, job.examples = words(train), len(train.splitlines())
        self.jobs[name] = job
        return JSONResponse(resource)

    def _job_problem(self, body: dict[str, Any]) -> str | None:
        """Why Vertex would refuse to create this job at once, if it would."""
        spec, labels = body.get("supervisedTuningSpec"), body.get("labels", {})
        hyper = spec.get("hyperParameters", {}) if isinstance(spec, dict) else {}
        unknown = (set(body) - JOB_KEYS) | (set(spec or {}) - SPEC_KEYS) | (set(hyper) - HYPER_KEYS)
        if unknown:
            return f"Invalid JSON payload received. Unknown or unsupported fields: {sorted(unknown)}"
        if body.get("baseModel") not in BASE_MODELS:
            return f"Base model {body.get('baseModel')} is not supported for supervised tuning."
        if not isinstance(spec, dict) or not isinstance(spec.get("trainingDatasetUri"), str):
            return "supervisedTuningSpec.trainingDatasetUri is required."
        if "adapterSize" in hyper and hyper["adapterSize"] not in ADAPTER_SIZES:
            return f"Invalid value at 'supervised_tuning_spec.hyper_parameters.adapter_size': {hyper['adapterSize']}"
        if "epochCount" in hyper and not 1 <= int(hyper["epochCount"]) <= 100:
            return "epoch_count must be between 1 and 100."
        if "learningRateMultiplier" in hyper and not hyper["learningRateMultiplier"] > 0:
            return "learning_rate_multiplier must be positive."
        for key, value in labels.items():
            if not LABEL.fullmatch(key) or not isinstance(value, str) or not LABEL_VALUE.fullmatch(value):
                return f"Label {key}={value!r}: keys and values take lowercase letters, digits, '-' and '_'."
        if len(body.get("tunedModelDisplayName", "")) > 128:
            return "tuned_model_display_name is longer than 128 characters."
        return None

    async def list_jobs(self, request: Request) -> Response:
        wanted = request.query_params.get("filter")
        self.list_filters.append(wanted)
        found = LABEL_FILTER.fullmatch(wanted.strip()) if wanted else None
        if wanted and not found:
            return error(400, "INVALID_ARGUMENT", f"Unsupported filter: {wanted}")
        jobs = [job.resource for job in reversed(self.jobs.values())]  # newest first
        if found:
            key, value = found[1], found[2] if found[2] is not None else found[3]
            jobs = [job for job in jobs if job["labels"].get(key) == value]
        return JSONResponse({"tuningJobs": jobs} if jobs else {})

    async def get_job(self, request: Request) -> Response:
        job = self.jobs.get(self._name(request))
        if job is None:
            return self._not_found(request)
        self._advance(job)
        return JSONResponse(job.resource)

    async def cancel_job(self, request: Request) -> Response:
        job = self.jobs.get(self._name(request))
        if job is None:
            return self._not_found(request)
        state = job.resource["state"]
        if state in FINAL:
            return error(400, "FAILED_PRECONDITION", f"Cannot cancel tuning job {job.resource['name']} in {state}.")
        job.resource.update(state="JOB_STATE_CANCELLING", updateTime=now())
        return JSONResponse({})

    async def generate(self, request: Request) -> Response:
        """generateContent of a base model (path parameter `model`) or a tuned model's endpoint (`endpoint`)."""
        path = request.path_params
        parent = f"projects/{path['project']}/locations/{path['location']}"
        if "model" in path:
            name, known = f"publishers/google/models/{path['model']}", path["model"] in BASE_MODELS
        else:
            name = f"{parent}/endpoints/{path['endpoint']}"
            known = any(job.resource.get("tunedModel", {}).get("endpoint") == name for job in self.jobs.values())
        body = await request.json()
        self.generated.append((name, body))
        if not known:
            return error(404, "NOT_FOUND", f"{name} was not found or your project does not have access to it.")
        refused = _generate_problem(body)
        if refused:
            return error(400, "INVALID_ARGUMENT", refused)
        turns = [body.get("systemInstruction"), *body["contents"]]
        prompt = sum(len(part["text"].split()) for turn in turns if turn for part in turn["parts"])
        user = body["contents"][-1]["parts"][0]["text"]
        answer = self.answers.get(user, self.default_answer).split()
        limit = body.get("generationConfig", {}).get("maxOutputTokens")
        said = answer[:limit] if limit is not None else answer
        usage = {
            "promptTokenCount": prompt, "candidatesTokenCount": len(said), "thoughtsTokenCount": self.thoughts_tokens,
            "totalTokenCount": prompt + len(said) + self.thoughts_tokens, "trafficType": "ON_DEMAND",
        }  # fmt: skip
        return JSONResponse({
            "candidates": [{
                "content": {"role": "model", "parts": [{"text": " ".join(said)}]},
                "finishReason": "MAX_TOKENS" if len(said) < len(answer) else "STOP",
            }],
            "usageMetadata": usage, "modelVersion": path.get("model", "gemini-2.5-flash"), "createTime": now(),
            "responseId": uuid.uuid4().hex,
        })  # fmt: skip

    def _name(self, request: Request) -> str:
        path = request.path_params
        return f"projects/{path['project']}/locations/{path['location']}/tuningJobs/{path['id']}"

    def _not_found(self, request: Request) -> Response:
        return error(404, "NOT_FOUND", f"The TuningJob does not exist: {self._name(request)}")

    def _advance(self, job: StandInJob) -> None:
        """One stage further, as a read finds it."""
        resource = job.resource
        if resource["state"] in FINAL:
            return
        if resource["state"] == "JOB_STATE_CANCELLING":
            self._finish(job, "JOB_STATE_CANCELLED", {"code": 1, "message": "CANCELLED"})
            return
        job.stage = min(job.stage + 1, len(self.stages) - 1)
        state = self.stages[job.stage]
        if job.problems:
            message = f"Dataset validation failed: {job.problems[0]}"
            if len(job.problems) > 1:
                message += f" (and {len(job.problems) - 1} more problems)"
            self._finish(job, "JOB_STATE_FAILED", {"code": 3, "message": message})
        elif state == "JOB_STATE_RUNNING" and "startTime" not in resource:
            # int64 values are strings in Google's JSON.
            stats = {"totalBillableTokenCount": str(job.billable), "tuningDatasetExampleCount": str(job.examples)}
            resource.update(state=state, startTime=now(), updateTime=now(),
                            tuningDataStats={"supervisedTuningDataStats": stats})  # fmt: skip
        elif state in FINAL and job.fail_with:
            self._finish(job, "JOB_STATE_FAILED", {"code": 13, "message": job.fail_with})
        elif state in SUCCEEDED:
            number = resource["name"].rsplit("/", 1)[1]
            parent = f"projects/{self.project}/locations/{self.location}"
            resource["tunedModel"] = {
                "model": f"{parent}/models/{number}@1",
                "endpoint": f"{parent}/endpoints/{number}",
            }
            self._finish(job, state)
        elif state in FINAL:
            self._finish(job, state)
        else:
            resource.update(state=state, updateTime=now())

    def _finish(self, job: StandInJob, state: str, failure: dict[str, Any] | None = None) -> None:
        job.resource.update(state=state, updateTime=now(), endTime=now())
        if failure:
            job.resource["error"] = failure

    # Cloud Storage

    async def upload(self, request: Request) -> Response:
        """The first request of an upload: a whole small file (multipart), or a resumable session's start."""
        bucket, kind = request.path_params["bucket"], request.query_params.get("uploadType")
        if kind == "multipart":
            found = re.search(r'boundary="?([^";]+)"?', request.headers.get("content-type", ""))
            parts = multipart_parts(await request.body(), found[1].encode()) if found else []
            if len(parts) != 2:
                return error(400, "INVALID_ARGUMENT", "A multipart upload has metadata and media parts.")
            (_, metadata_part), (media_headers, data) = parts
            metadata = json.loads(metadata_part)
            return self._store(bucket, metadata, media_headers.get("content-type", ""), bytes(data))
        if kind == "resumable":
            upload_id = uuid.uuid4().hex
            content_type = request.headers.get("x-upload-content-type", "application/octet-stream")
            self._uploads[upload_id] = Upload(bucket, json.loads(await request.body()), content_type)
            location = f"{self.url}{request.url.path}?uploadType=resumable&upload_id={upload_id}"
            return Response(status_code=200, headers={"location": location})
        return error(400, "INVALID_ARGUMENT", f"Unsupported uploadType: {kind}")

    async def upload_chunk(self, request: Request) -> Response:
        """A chunk of a resumable upload (or, with `bytes */…`, a question of how much arrived)."""
        upload = self._uploads.get(request.query_params.get("upload_id", ""))
        found = CONTENT_RANGE.fullmatch(request.headers.get("content-range", ""))
        if upload is None or found is None:
            return error(400, "INVALID_ARGUMENT", "No such upload session, or no Content-Range.")
        if found[1] is not None:
            if int(found[1]) != len(upload.received):
                return error(400, "INVALID_ARGUMENT", f"The upload has {len(upload.received)} bytes, not {found[1]}.")
            upload.received += await request.body()
        total = None if found[3] == "*" else int(found[3])
        if total is not None and len(upload.received) == total:
            given_hash = request.headers.get("x-goog-hash", "")
            if given_hash.startswith("crc32c=") and given_hash.removeprefix("crc32c=") != crc32c(
                bytes(upload.received)
            ):
                return error(400, "INVALID_ARGUMENT", "The provided CRC32C does not match the uploaded data.")
            return self._store(upload.bucket, upload.metadata, upload.content_type, bytes(upload.received))
        headers = {"range": f"bytes=0-{len(upload.received) - 1}"} if upload.received else {}
        return Response(status_code=308, headers=headers)

    def _store(self, bucket: str, metadata: dict[str, Any], content_type: str, data: bytes) -> Response:
        name = metadata.get("name")
        if not name:
            return error(400, "INVALID_ARGUMENT", "Required: object name.")
        digests = {"crc32c": crc32c(data), "md5Hash": b64(hashlib.md5(data).digest())}
        if any(key in metadata and metadata[key] != digest for key, digest in digests.items()):
            return error(400, "INVALID_ARGUMENT", "The provided checksum does not match the uploaded data.")
        self.objects[name], self.object_types[name] = data, content_type
        self._generations[name] = self._generations.get(name, 0) + 1
        return JSONResponse(self._object(name))

    def _object(self, name: str) -> dict[str, Any]:
        data, generation = self.objects[name], self._generations[name]
        return {
            "kind": "storage#object", "id": f"{self.bucket}/{name}/{generation}", "name": name,
            "bucket": self.bucket, "generation": str(generation), "metageneration": "1",
            "contentType": self.object_types[name], "size": str(len(data)), "storageClass": "STANDARD",
            "crc32c": crc32c(data), "md5Hash": b64(hashlib.md5(data).digest()), "timeCreated": now(), "updated": now(),
        }  # fmt: skip

    # OAuth

    async def token(self, request: Request) -> Response:
        """A service account's signed JWT (RS256) for an access token, as Google's token endpoint does it."""
        form = {key: values[0] for key, values in parse_qs((await request.body()).decode()).items()}
        if form.get("grant_type") != JWT_BEARER:
            return JSONResponse({"error": "unsupported_grant_type"}, 400)
        try:
            head, body, signature = form["assertion"].split(".")
            claims = json.loads(unpadded_b64(body))
            key = self.service_accounts[claims["iss"]]
            key.verify(unpadded_b64(signature), f"{head}.{body}".encode(), padding.PKCS1v15(), hashes.SHA256())
        except (KeyError, ValueError, InvalidSignature):
            return JSONResponse({"error": "invalid_grant", "error_description": "Invalid JWT Signature."}, 400)
        if claims.get("aud") != AUDIENCE or SCOPE not in claims.get("scope", "").split():
            return JSONResponse({"error": "invalid_scope", "error_description": "Bad audience or scope."}, 400)
        issued = f"ya29.service-account-{uuid.uuid4().hex}"
        self.tokens.add(issued)
        return JSONResponse({"access_token": issued, "expires_in": 3599, "token_type": "Bearer"})

    def add_service_account(self, email: str) -> str:
        """A new service account of the project: its key file's private key (PEM), as the console hands it out."""
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.service_accounts[email] = private.public_key()
        pem = private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        return pem.decode()
