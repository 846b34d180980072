"""The provider interface: a module describes what it offers; one that can fine-tune also uploads, starts, polls
and cancels. A fine-tune calls these in order, checkpointing between them (see tuneyard.finetunes.service).

Provider modules translate their SDK's failures into ProviderError, whose message never holds a secret
(`redact` removes any configured secret a provider echoed back).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from typing import Any, ClassVar

from tuneyard.core.config import Settings
from tuneyard.core.errors import TuneyardError
from tuneyard.providers.models import (
    BaseModelFacts,
    Completion,
    FineTuneRequest,
    PollResult,
    ProviderFacts,
    TrainingFiles,
    UploadedFiles,
)

MAX_EPOCHS = 50
MAX_BATCH_SIZE = 256


class ProviderError(TuneyardError):
    """A provider refused or failed a call. `retryable`: a rate limit, a 5xx or a lost connection (after the SDK's
    own retries): the fine-tune tries again later; otherwise it fails with this message."""

    code = "PROVIDER_ERROR"

    def __init__(self, message: str, retryable: bool = False) -> None:
        super().__init__(message)
        self.retryable = retryable


def redact(text: str, settings: Settings) -> str:
    """The text with every configured secret replaced by "[secret]"."""
    for secret in settings.provider_secrets():
        if secret:
            text = text.replace(secret, "[secret]")
    return text


class ProviderModule(ABC):
    """A provider: its facts, whether this installation is configured to use it, and how it checks a fine-tune."""

    facts: ClassVar[ProviderFacts]
    extra_keys: ClassVar[frozenset[str]] = frozenset()  # the `extra` settings a fine-tune on it accepts
    trains_lora: ClassVar[bool] = False  # takes loraRank and maxSteps (LOCAL)

    @abstractmethod
    def missing_settings(self, settings: Settings) -> list[str]:
        """What is still needed to use the provider, each said as what to do ("set TUNEYARD_OPENAI_API_KEY")."""

    def configured(self, settings: Settings) -> bool:
        return not self.missing_settings(settings)

    async def base_models(self, settings: Settings) -> list[BaseModelFacts]:
        """The models it offers (a server's own list, for some)."""
        return list(self.facts.base_models)

    def check(self, request: FineTuneRequest) -> list[str]:
        """Problems with the request's settings, each naming its field (empty when it can be sent)."""
        problems = []
        if request.epochs is not None and not 1 <= request.epochs <= MAX_EPOCHS:
            problems.append(f"input.epochs: must be between 1 and {MAX_EPOCHS}, got {request.epochs}")
        rate = request.learning_rate
        if rate is not None and not (math.isfinite(rate) and rate > 0):
            problems.append(f"input.learningRate: must be a positive number, got {rate}")
        size = request.batch_size
        if size is not None and not 1 <= size <= MAX_BATCH_SIZE:
            problems.append(f"input.batchSize: must be between 1 and {MAX_BATCH_SIZE}, got {size}")
        if not self.trains_lora:
            for name, value in (("loraRank", request.lora_rank), ("maxSteps", request.max_steps)):
                if value is not None:
                    problems.append(f"input.{name}: only LOCAL fine-tunes take it, not {self.facts.provider.value}")
        for key in sorted(set(request.extra) - self.extra_keys):
            allowed = ", ".join(sorted(self.extra_keys)) or "none"
            problems.append(f"input.extra.{key}: not a {self.facts.provider.value} setting (allowed: {allowed})")
        return problems + self.check_extra(request)

    def check_extra(self, request: FineTuneRequest) -> list[str]:
        """Problems with the provider's own settings (its `extra` values, ...)."""
        return []

    async def complete(self, settings: Settings, model: str, system: str, user: str, max_tokens: int) -> Completion:
        """The answer of `model` (the provider's own id: a registered model's providerModelId, or a base model's
        name) to one system and one user message, at most max_tokens long, as deterministic as the provider allows
        (temperature 0, greedy): what benchmarks of registered models compare."""
        raise ProviderError(f"{self.facts.provider.value} does not answer requests", retryable=False)


class FineTuner(ProviderModule):
    """A provider that fine-tunes on its own service. Each call is one step a fine-tune may repeat after a crash:
    upload may run twice (a stray file costs nothing), start never runs twice for one marker (find() looks first)."""

    @abstractmethod
    async def upload(self, settings: Settings, files: TrainingFiles, marker: str) -> UploadedFiles:
        """Put the training (and validation) file where the provider trains from."""

    @abstractmethod
    async def find(self, settings: Settings, marker: str) -> str | None:
        """The provider job an earlier start() made for this marker, if any (a start whose answer was lost)."""

    @abstractmethod
    async def start(self, settings: Settings, request: FineTuneRequest, files: UploadedFiles, marker: str) -> str:
        """Create the provider's job, labelled with the marker so that find() sees it; its id."""

    @abstractmethod
    async def poll(self, settings: Settings, job_id: str, cursor: dict[str, Any]) -> PollResult:
        """The job's state, and its events and metrics newer than the cursor (an empty one at first)."""

    @abstractmethod
    async def cancel(self, settings: Settings, job_id: str) -> None:
        """Ask the provider to stop the job (a job already ended is not an error)."""
