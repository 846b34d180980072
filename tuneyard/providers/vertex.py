"""Gemini supervised tuning, and inference, on Vertex AI through Google's SDKs, one client per call:

- upload: google-cloud-storage's `Blob.upload_from_filename` to gs://<bucket>/tuneyard/<marker>/train.jsonl (and
  validation.jsonl), in a thread (the storage client is synchronous);
- find: google-genai's `tunings.list` filtered on the job's label, the label checked again here;
- start: `tunings.tune(base_model, TuningDataset(gcs_uri), CreateTuningJobConfig(...))`;
- poll: `tunings.get`: the job's state, its dataset statistics and, at the end, the tuned model or the error. Vertex
  keeps loss curves in its experiment (TensorBoard), not in the job, so a poll reports no metrics;
- cancel: `tunings.cancel`;
- complete: `models.generate_content(model, contents=user, GenerateContentConfig(system_instruction,
  max_output_tokens, temperature=0))`. A base model is a name ("gemini-2.5-flash", sent to
  .../publishers/google/models/<name>:generateContent); a tuned model is its endpoint
  ("projects/.../endpoints/<id>", sent to .../endpoints/<id>:generateContent). Inference reads no files, so it needs
  no bucket.

Credentials are always the configured ones, an access token or a service account key file, handed to both clients:
without them each SDK would look up Google's application default credentials (a developer's gcloud login, the GCE
metadata server) and could train in another project than the configured one, billed to it. An access token lives
about an hour; fine-tunes that run longer need the key file, whose tokens the SDKs refresh.
"""

from __future__ import annotations

import asyncio
import re
import time
import warnings
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime
from typing import Any

import google.auth.exceptions
import httpx2
import requests
from google.api_core import exceptions as api_exceptions
from google.auth.credentials import Credentials
from google.cloud import storage
from google.genai import Client, errors, types
from google.genai.client import AsyncClient
from google.oauth2 import credentials as oauth2
from google.oauth2 import service_account

from tuneyard.core.config import Settings
from tuneyard.providers import catalog
from tuneyard.providers.base import FineTuner, ProviderError, redact
from tuneyard.providers.models import (
    Completion,
    FineTuneRequest,
    PollResult,
    ProviderEvent,
    ProviderState,
    TrainingFiles,
    UploadedFiles,
)

# tunings.tune() warns once per process that the SDK's tuning API is experimental: known, and the lock files pin it.
warnings.filterwarnings("ignore", "The SDK's tuning implementation is experimental", module=re.escape(__name__))

SCOPES = ["https://www.googleapis.com/auth/cloud-platform"]
LABEL = "tuneyard_job"  # the job label find() filters on
API_VERSION = "v1"  # the SDK would pick v1beta1; the GA API's tuning jobs do not change under Tuneyard
TIMEOUT_MS = 60_000  # per request; the SDK has none by default, and a hung call would hold a worker for good
# An answer takes longer: Gemini 2.5 Pro may think for minutes. Ten, as the OpenAI and Anthropic SDKs wait.
ANSWER_TIMEOUT_MS = 600_000
# Short in-call retries of rate limits, 5xx and lost connections; a longer outage is the fine-tune's to wait out (the
# ProviderError is retryable), without holding a worker meanwhile.
RETRY = types.HttpRetryOptions(attempts=3, initial_delay=0.5, max_delay=4.0)
# Creating a job is not idempotent: an answer lost after Vertex created the job must not create a second (billed)
# one. The fine-tune retries a failed start itself, and looks for the job with find() first.
NO_RETRY = types.HttpOptions(retry_options=types.HttpRetryOptions(attempts=1))
# Uploads are retried without preconditions: the object's name belongs to one fine-tune and its content is that
# fine-tune's export, so writing it again (a retry after a lost answer, or upload() run again after a crash) leaves
# the same file. With if_generation_match=0 instead, such a repeat would be refused (412) and need telling apart.
UPLOAD_RETRY = storage.retry.DEFAULT_RETRY.with_delay(initial=0.5, maximum=4.0).with_timeout(30.0)
ADAPTER_SIZES = {
    1: types.AdapterSize.ADAPTER_SIZE_ONE,
    2: types.AdapterSize.ADAPTER_SIZE_TWO,
    4: types.AdapterSize.ADAPTER_SIZE_FOUR,
    8: types.AdapterSize.ADAPTER_SIZE_EIGHT,
    16: types.AdapterSize.ADAPTER_SIZE_SIXTEEN,
}
DISPLAY_NAME_MAX = 128  # Vertex's limit on tunedModelDisplayName (Tuneyard's registry keeps the full name)
# Failures to reach the service at all, as each transport raises them: worth another try later.
LOST_CONNECTION = (
    google.auth.exceptions.TransportError,
    httpx2.NetworkError,
    httpx2.TimeoutException,
    httpx2.RemoteProtocolError,
    requests.ConnectionError,
    requests.Timeout,
)

STATES = {
    "JOB_STATE_QUEUED": ProviderState.QUEUED,
    "JOB_STATE_PENDING": ProviderState.QUEUED,
    "JOB_STATE_RUNNING": ProviderState.RUNNING,
    "JOB_STATE_UPDATING": ProviderState.RUNNING,
    "JOB_STATE_CANCELLING": ProviderState.RUNNING,
    "JOB_STATE_PAUSED": ProviderState.RUNNING,
    "JOB_STATE_SUCCEEDED": ProviderState.SUCCEEDED,
    "JOB_STATE_PARTIALLY_SUCCEEDED": ProviderState.SUCCEEDED,
    "JOB_STATE_FAILED": ProviderState.FAILED,
    "JOB_STATE_EXPIRED": ProviderState.FAILED,
    "JOB_STATE_CANCELLED": ProviderState.CANCELLED,
}
NOTES = {
    "JOB_STATE_PARTIALLY_SUCCEEDED": "Vertex AI says the job partially succeeded: some results may be missing",
    "JOB_STATE_PAUSED": "paused on Vertex AI: it waits to be resumed there",
}


class VertexFineTuner(FineTuner):
    facts = catalog.GEMINI_VERTEX
    extra_keys = frozenset({"adapterSize"})

    def missing_settings(self, settings: Settings) -> list[str]:
        return _missing(settings)

    def check_extra(self, request: FineTuneRequest) -> list[str]:
        problems = []
        if request.batch_size is not None:
            problems.append("input.batchSize: Vertex Gemini tuning does not take it")
        size = request.extra.get("adapterSize")
        if size is not None and (isinstance(size, bool) or size not in ADAPTER_SIZES):
            problems.append(f"input.extra.adapterSize: one of {', '.join(map(str, ADAPTER_SIZES))}, got {size!r}")
        return problems

    async def upload(self, settings: Settings, files: TrainingFiles, marker: str) -> UploadedFiles:
        _require(settings)
        train = f"tuneyard/{marker}/train.jsonl"
        uploads = {train: files.train}
        validation = None
        if files.validation is not None:
            validation = f"tuneyard/{marker}/validation.jsonl"
            uploads[validation] = files.validation
        await asyncio.to_thread(_upload, settings, uploads)
        bucket = f"gs://{settings.vertex_bucket}/"
        return UploadedFiles(bucket + train, bucket + validation if validation else None)

    async def find(self, settings: Settings, marker: str) -> str | None:
        """The filter does the work; the label is checked again so that one Vertex ignored finds nothing wrong."""
        label = _label(marker)
        config = types.ListTuningJobsConfig(filter=f'labels.{LABEL}="{label}"')
        async with _client(settings) as client:
            async for job in await client.tunings.list(config=config):
                if (job.labels or {}).get(LABEL) == label:
                    return job.name
        return None

    async def start(self, settings: Settings, request: FineTuneRequest, files: UploadedFiles, marker: str) -> str:
        # Omitted hyperparameters are not sent: Vertex picks them for the dataset's size.
        validation = types.TuningValidationDataset(gcs_uri=files.validation) if files.validation else None
        size = request.extra.get("adapterSize")
        config = types.CreateTuningJobConfig(
            validation_dataset=validation,
            epoch_count=request.epochs,
            learning_rate_multiplier=request.learning_rate,
            adapter_size=ADAPTER_SIZES[size] if size is not None else None,
            tuned_model_display_name=(request.model_name or marker)[:DISPLAY_NAME_MAX],
            labels={LABEL: _label(marker)},
            http_options=NO_RETRY,
        )
        async with _client(settings) as client:
            job = await client.tunings.tune(
                base_model=request.base_model, training_dataset=types.TuningDataset(gcs_uri=files.train), config=config
            )
        if not job.name:
            raise ProviderError("Vertex AI created a tuning job without a name")
        return job.name

    async def poll(self, settings: Settings, job_id: str, cursor: dict[str, Any]) -> PollResult:
        """The cursor holds the Vertex state last reported ("state"): a change is an event. Vertex keeps no history of
        states, so one passed between two polls is not seen."""
        async with _client(settings) as client:
            job = await client.tunings.get(name=job_id)
        status = _status(job)
        state = _state(status)
        stats = job.tuning_data_stats.supervised_tuning_data_stats if job.tuning_data_stats else None
        error = None
        if state is ProviderState.FAILED:
            error = job.error.message if job.error and job.error.message else f"Vertex AI gave no reason ({status})"
        events = []
        if status != cursor.get("state"):
            message = f"Vertex AI: {status}" + (f": {error}" if error else "")
            if status in NOTES:
                message += f" ({NOTES[status]})"
            events.append(ProviderEvent(job.update_time or datetime.now(UTC), redact(message, settings)))
        tuned = job.tuned_model if state is ProviderState.SUCCEEDED else None
        return PollResult(
            state=state,
            provider_status=status,
            cursor={"state": status},
            events=events,
            progress=1.0 if state is ProviderState.SUCCEEDED else None,
            model_id=(tuned.endpoint or tuned.model) if tuned else None,
            error=redact(error, settings) if error else None,
            trained_tokens=stats.total_billable_token_count if stats else None,
        )

    async def cancel(self, settings: Settings, job_id: str) -> None:
        async with _client(settings) as client:
            try:
                await client.tunings.cancel(name=job_id)
            except errors.ClientError as exc:
                # Vertex refuses (400 FAILED_PRECONDITION) to cancel a job that has ended: that is not an error here.
                if exc.code != 400 or not _state(_status(await client.tunings.get(name=job_id))).final:
                    raise

    async def complete(self, settings: Settings, model: str, system: str, user: str, max_tokens: int) -> Completion:
        config = types.GenerateContentConfig(
            system_instruction=system, max_output_tokens=max_tokens, temperature=0,
            http_options=types.HttpOptions(timeout=ANSWER_TIMEOUT_MS),
        )  # fmt: skip
        started = time.perf_counter()
        async with _client(settings, bucket=False) as client:
            response = await client.models.generate_content(model=model, contents=user, config=config)
        usage = response.usage_metadata
        output = None
        if usage and usage.candidates_token_count is not None:
            # Gemini 2.5 thinks before answering unless told not to: its thoughts are billed as output too.
            output = usage.candidates_token_count + (usage.thoughts_token_count or 0)
        return Completion(
            text=response.text or "",  # None: no candidate (a blocked prompt) or no text in it
            input_tokens=usage.prompt_token_count if usage else None,
            output_tokens=output,
            seconds=time.perf_counter() - started,
        )


def _missing(settings: Settings, bucket: bool = True) -> list[str]:
    """What is not configured; `bucket`: whether the call needs one (inference does not)."""
    missing = []
    if not settings.vertex_project:
        missing.append("set TUNEYARD_VERTEX_PROJECT")
    if bucket and not settings.vertex_bucket:
        missing.append("set TUNEYARD_VERTEX_BUCKET")
    if not _token(settings) and settings.vertex_credentials_file is None:
        missing.append("set TUNEYARD_VERTEX_ACCESS_TOKEN or TUNEYARD_VERTEX_CREDENTIALS_FILE")
    return missing


def _require(settings: Settings, bucket: bool = True) -> None:
    missing = _missing(settings, bucket)
    if missing:
        raise ProviderError(f"Vertex AI is not configured: {'; '.join(missing)}")


def _label(marker: str) -> str:
    """The marker as a GCP label value: at most 63 lowercase letters, digits, '-' and '_' (markers already are)."""
    return re.sub(r"[^a-z0-9_-]", "_", marker.lower())[:63]


def _status(job: types.TuningJob) -> str:
    return job.state.value if job.state else "JOB_STATE_UNSPECIFIED"


def _state(status: str) -> ProviderState:
    return STATES.get(status, ProviderState.RUNNING)  # a state newer than this module: keep polling


def _token(settings: Settings) -> str | None:
    token = settings.vertex_access_token
    if token is None or not token.get_secret_value():
        return None
    return token.get_secret_value()


def _credentials(settings: Settings) -> Credentials:
    """The access token when there is one, else the service account key file's (refreshed by the SDKs)."""
    token = _token(settings)
    if token:
        return oauth2.Credentials(token=token)
    path = settings.vertex_credentials_file
    try:
        return service_account.Credentials.from_service_account_file(str(path), scopes=SCOPES)
    except (OSError, ValueError) as exc:
        message = f"TUNEYARD_VERTEX_CREDENTIALS_FILE: no service account key could be read from {path}: {exc}"
        raise ProviderError(redact(message, settings)) from None


@asynccontextmanager
async def _client(settings: Settings, bucket: bool = True) -> AsyncIterator[AsyncClient]:
    """A client for one call (`bucket`: whether the call needs one); the SDK's errors raised inside become
    ProviderErrors."""
    _require(settings, bucket)
    http_options = types.HttpOptions(
        base_url=settings.vertex_base_url, api_version=API_VERSION, timeout=TIMEOUT_MS, retry_options=RETRY
    )
    client = Client(
        vertexai=True,
        project=settings.vertex_project,
        location=settings.vertex_location,
        credentials=_credentials(settings),
        http_options=http_options,
    )
    with _translated(settings, "Vertex AI"):
        async with client.aio as aio:
            yield aio


def _upload(settings: Settings, uploads: dict[str, str]) -> None:
    """Each local file (by object name) into the bucket; blocking."""
    options = {"api_endpoint": settings.gcs_base_url} if settings.gcs_base_url else None
    with _translated(settings, "Cloud Storage"):
        credentials = _credentials(settings)
        with storage.Client(project=settings.vertex_project, credentials=credentials, client_options=options) as client:
            bucket = client.bucket(settings.vertex_bucket)
            for name, path in uploads.items():
                bucket.blob(name).upload_from_filename(path, content_type="application/jsonl", retry=UPLOAD_RETRY)


@contextmanager
def _translated(settings: Settings, service: str) -> Iterator[None]:
    """The SDKs' failures as ProviderErrors: rate limits, 5xx and lost connections are retryable. Not chained: the
    SDKs' own messages may quote a response that echoes the token."""
    try:
        yield
    except errors.APIError as exc:
        retryable = exc.code == 429 or exc.code >= 500
        raise _error(f"{service} refused: {exc.code} {exc.status}: {exc.message or ''}", settings, retryable) from None
    except api_exceptions.GoogleAPICallError as exc:
        retryable = isinstance(exc, api_exceptions.TooManyRequests | api_exceptions.ServerError)
        raise _error(f"{service} refused: {exc.code} {exc.message}", settings, retryable) from None
    except api_exceptions.RetryError as exc:  # the upload's retries ran out of time
        raise _error(f"{service} did not answer in time: {exc.cause}", settings, True) from None
    except google.auth.exceptions.RefreshError as exc:
        # Cloud Storage answers a refused token with 401, on which its client tries to refresh: a bare token cannot.
        why = f"the service account key was refused: {exc}"
        if _token(settings):
            why = "the access token was refused (one lasts about an hour)"
        raise _error(f"{service}: {why}", settings, exc.retryable) from None
    except (*LOST_CONNECTION, httpx2.TransportError, requests.RequestException) as exc:
        if isinstance(exc, LOST_CONNECTION):
            raise _error(f"{service} could not be reached: {exc!r}", settings, True) from None
        raise _error(f"{service} call failed: {exc!r}", settings) from None  # a bad URL, say: no retry mends it


def _error(message: str, settings: Settings, retryable: bool = False) -> ProviderError:
    return ProviderError(redact(message, settings), retryable)
