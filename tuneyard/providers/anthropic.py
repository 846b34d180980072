"""Anthropic: an inference provider only (no fine-tuning API exists; see catalog.ANTHROPIC)."""

from __future__ import annotations

from tuneyard.core.config import Settings
from tuneyard.providers import catalog
from tuneyard.providers.base import ProviderModule


class AnthropicProvider(ProviderModule):
    facts = catalog.ANTHROPIC

    def missing_settings(self, settings: Settings) -> list[str]:
        return [] if settings.anthropic_api_key is not None else ["set TUNEYARD_ANTHROPIC_API_KEY"]
