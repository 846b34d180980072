"""Providers as the rest of Tuneyard sees them: what each offers today, and the one to fine-tune with."""

from __future__ import annotations

from tuneyard.core.config import Settings
from tuneyard.core.errors import ValidationError
from tuneyard.providers.anthropic import AnthropicProvider
from tuneyard.providers.base import FineTuner, ProviderError, ProviderModule, redact
from tuneyard.providers.models import Provider, ProviderInfo
from tuneyard.providers.openai import OpenAIFineTuner
from tuneyard.providers.vertex import VertexFineTuner

__all__ = ["FineTuner", "ProviderError", "describe", "fine_tuner", "module", "redact"]

MODULES: dict[Provider, ProviderModule] = {
    m.facts.provider: m for m in (OpenAIFineTuner(), VertexFineTuner(), AnthropicProvider())
}


def module(provider: Provider) -> ProviderModule:
    found = MODULES.get(provider)
    if found is None:
        raise ValidationError(f"input.provider: {provider.value} is not available in this version of Tuneyard")
    return found


def fine_tuner(provider: Provider) -> FineTuner:
    """The provider's fine-tuning module; BAD_USER_INPUT with the reason when it has none."""
    found = module(provider)
    if not isinstance(found, FineTuner):
        raise ValidationError(found.facts.no_fine_tuning or f"{provider.value} cannot fine-tune")
    return found


def describe(settings: Settings) -> list[ProviderInfo]:
    """Every provider as this installation sees it on settings.current_date()."""
    return [_info(m, settings) for m in MODULES.values()]


def _info(found: ProviderModule, settings: Settings) -> ProviderInfo:
    facts, today = found.facts, settings.current_date()
    missing = found.missing_settings(settings)
    notes = list(facts.notes)
    if missing:
        notes.append("Not configured: set " + ", ".join(missing) + ".")
    closed = facts.closed_on(today)
    if closed:
        notes.append(f"Fine-tuning closed: no new jobs after {facts.fine_tune_closes_at}.")
    can = isinstance(found, FineTuner) and not missing and not closed
    return ProviderInfo(facts=facts, configured=not missing, can_fine_tune=can, notes=notes)
