"""Providers as the rest of Tuneyard sees them: what each offers today, and the one to fine-tune with."""

from __future__ import annotations

import asyncio

from tuneyard.core.config import Settings
from tuneyard.core.errors import ValidationError
from tuneyard.providers.anthropic import AnthropicProvider
from tuneyard.providers.base import FineTuner, ProviderError, ProviderModule, redact
from tuneyard.providers.local import DEFAULTS as LOCAL_DEFAULTS
from tuneyard.providers.local import LocalProvider, plan_steps
from tuneyard.providers.models import BaseModelFacts, Provider, ProviderInfo
from tuneyard.providers.ollama import OllamaProvider
from tuneyard.providers.ollama import push as push_to_ollama
from tuneyard.providers.openai import OpenAIFineTuner
from tuneyard.providers.vertex import VertexFineTuner

__all__ = [
    "LOCAL_DEFAULTS",
    "FineTuner",
    "LocalProvider",
    "OllamaProvider",
    "ProviderError",
    "base_models",
    "describe",
    "fine_tuner",
    "local",
    "module",
    "ollama",
    "plan_steps",
    "push_to_ollama",
    "redact",
]  # fmt: skip

_LOCAL, _OLLAMA = LocalProvider(), OllamaProvider()
MODULES: dict[Provider, ProviderModule] = {
    m.facts.provider: m for m in (_LOCAL, OpenAIFineTuner(), VertexFineTuner(), _OLLAMA, AnthropicProvider())
}


def module(provider: Provider) -> ProviderModule:
    return MODULES[provider]


def local() -> LocalProvider:
    return _LOCAL


def ollama() -> OllamaProvider:
    return _OLLAMA


def fine_tuner(provider: Provider) -> FineTuner:
    """The provider's remote fine-tuning module; BAD_USER_INPUT with the reason when it has none."""
    found = module(provider)
    if not isinstance(found, FineTuner):
        raise ValidationError(found.facts.no_fine_tuning or f"{provider.value} does not fine-tune on a remote service")
    return found


async def base_models(found: ProviderModule, settings: Settings) -> list[BaseModelFacts]:
    """The provider's base models; a server that cannot say (Ollama down) lists none."""
    if not found.configured(settings):
        return list(found.facts.base_models)
    try:
        return await found.base_models(settings)
    except ProviderError:
        return []


async def describe(settings: Settings) -> list[ProviderInfo]:
    """Every provider as this installation sees it on settings.current_date()."""
    return list(await asyncio.gather(*(_info(m, settings) for m in MODULES.values())))


async def _info(found: ProviderModule, settings: Settings) -> ProviderInfo:
    facts, today = found.facts, settings.current_date()
    missing = found.missing_settings(settings)
    notes = list(facts.notes)
    if missing:
        notes.append("Not configured: " + "; ".join(missing) + ".")
    closed = facts.closed_on(today)
    if closed:
        notes.append(f"Fine-tuning closed: no new jobs after {facts.fine_tune_closes_at}.")
    models = await base_models(found, settings)
    can = facts.no_fine_tuning is None and not missing and not closed
    return ProviderInfo(facts=facts, configured=not missing, can_fine_tune=can, notes=notes, base_models=models)
