"""The active model as the orchestrator reads it: cached, and still known while the server is away."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from tuneyard.client import files

log = logging.getLogger("tuneyard.client")


@dataclass(frozen=True, slots=True)
class ModelRef:
    """A registered model: call it at `provider` by `provider_model_id`; record executions with its `id` (or that)."""

    id: str
    name: str
    provider: str  # OPENAI, GEMINI_VERTEX, OLLAMA, ANTHROPIC, LOCAL
    provider_model_id: str
    base_model: str


@dataclass(frozen=True, slots=True)
class ActiveModel:
    """A purpose's active model and what to try, in order, when it is unavailable (ending with its base model).
    `stale`: the server could not be asked, so this is the last answer it gave (perhaps in an earlier run)."""

    purpose: str
    model: ModelRef
    fallbacks: tuple[ModelRef, ...]
    since: datetime
    stale: bool = False

    @property
    def candidates(self) -> tuple[ModelRef, ...]:
        """The model, then its fallbacks: the order to try them in."""
        return (self.model, *self.fallbacks)


def parse(found: dict[str, Any] | None) -> ActiveModel | None:
    """An ActiveModel from the server's activeModel object."""
    if found is None:
        return None
    return ActiveModel(
        purpose=found["purpose"],
        model=_model(found["model"]),
        fallbacks=tuple(_model(fallback) for fallback in found["fallbacks"]),
        since=datetime.fromisoformat(found["since"]),
    )


def _model(found: dict[str, Any]) -> ModelRef:
    return ModelRef(found["id"], found["name"], found["provider"], found["providerModelId"], found["baseModel"])


@dataclass(frozen=True, slots=True)
class Answer:
    value: ActiveModel | None
    until: float  # time.monotonic() after which to ask the server again


class ActiveModelCache:
    """The last answer for each purpose: in memory for `ttl` seconds, and in `path` (the server's own JSON) so that
    a restarted orchestrator knows it before the server is back."""

    def __init__(self, path: Path, ttl: float) -> None:
        self._path = path
        self._ttl = ttl
        self._answers: dict[str, Answer] = {}

    def fresh(self, purpose: str) -> Answer | None:
        """The answer given within the last `ttl` seconds, if any."""
        answer = self._answers.get(purpose)
        return answer if answer is not None and time.monotonic() < answer.until else None

    def store(self, purpose: str, found: dict[str, Any] | None) -> ActiveModel | None:
        """Keep the server's answer, in memory and on disk."""
        value = parse(found)
        self._answers[purpose] = Answer(value, time.monotonic() + self._ttl)
        saved = self._saved()
        saved[purpose] = found
        files.replace(self._path, json.dumps(saved, ensure_ascii=False).encode())
        return value

    def last_known(self, purpose: str) -> Answer | None:
        """The last answer, marked stale, kept for another `ttl` seconds before the server is asked again (so that a
        server away costs one timeout per `ttl`, not one per call); None when this purpose was never answered."""
        answer = self._answers.get(purpose)
        if answer is not None:
            value = answer.value
        elif purpose in (saved := self._saved()):
            value = parse(saved[purpose])
        else:
            return None
        stale = Answer(None if value is None else replace(value, stale=True), time.monotonic() + self._ttl)
        self._answers[purpose] = stale
        return stale

    def _saved(self) -> dict[str, Any]:
        try:
            saved: dict[str, Any] = json.loads(self._path.read_bytes())
        except FileNotFoundError:
            return {}
        except ValueError:  # never written half (files.replace), so only if edited by hand: start over
            log.warning("Tuneyard client: ignoring %s, which is not JSON", self._path)
            return {}
        return saved
