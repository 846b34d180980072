"""Anthropic: an inference provider only (no fine-tuning API exists; see catalog.ANTHROPIC), through the official SDK
(`anthropic.AsyncAnthropic`), one client per call:

- complete: `messages.create(model, system, messages=[user], max_tokens)`.

No temperature is sent: the SDK (2.x) no longer takes one, and the API version it speaks (anthropic-version
2026-10-21) refuses temperature, top_p and top_k on every model, so Claude's answers are not greedy like the other
providers'. The SDK retries rate limits, overloads (529), 5xx and lost connections itself (MAX_RETRIES); what still
fails becomes a ProviderError.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anthropic
from anthropic.types import TextBlock

from tuneyard.core.config import Settings
from tuneyard.providers import catalog
from tuneyard.providers.base import ProviderError, ProviderModule, redact
from tuneyard.providers.models import Completion

MAX_RETRIES = 2  # the SDK's own, with backoff


class AnthropicProvider(ProviderModule):
    facts = catalog.ANTHROPIC

    def missing_settings(self, settings: Settings) -> list[str]:
        key = settings.anthropic_api_key
        return [] if key is not None and key.get_secret_value() else ["set TUNEYARD_ANTHROPIC_API_KEY"]

    async def complete(self, settings: Settings, model: str, system: str, user: str, max_tokens: int) -> Completion:
        started = time.perf_counter()
        async with _client(settings) as client:
            try:
                message = await client.messages.create(
                    model=model, system=system, messages=[{"role": "user", "content": user}], max_tokens=max_tokens
                )
            except ValueError as exc:  # the SDK refuses, before sending, a max_tokens it expects to take > 10 min
                raise ProviderError(f"Anthropic: {exc}") from None
        usage = message.usage
        # Input tokens read from or written to a prompt cache are counted apart; all of them are billed.
        cached = (usage.cache_creation_input_tokens or 0) + (usage.cache_read_input_tokens or 0)
        return Completion(
            text="".join(block.text for block in message.content if isinstance(block, TextBlock)),
            input_tokens=usage.input_tokens + cached,
            output_tokens=usage.output_tokens,
            seconds=time.perf_counter() - started,
        )


@asynccontextmanager
async def _client(settings: Settings) -> AsyncIterator[anthropic.AsyncAnthropic]:
    """A client for one call; the SDK's errors raised inside become ProviderErrors."""
    api_key = settings.anthropic_api_key.get_secret_value() if settings.anthropic_api_key else ""
    if not api_key:
        raise ProviderError("Anthropic is not configured: set TUNEYARD_ANTHROPIC_API_KEY")
    client = anthropic.AsyncAnthropic(api_key=api_key, base_url=settings.anthropic_base_url, max_retries=MAX_RETRIES)
    try:
        async with client:
            yield client
    except anthropic.APIError as exc:
        # Not chained: the SDK's own message quotes the response body, which may echo the key.
        raise _provider_error(exc, settings) from None


def _provider_error(exc: anthropic.APIError, settings: Settings) -> ProviderError:
    if isinstance(exc, anthropic.APIStatusError):
        detail = exc.api_message or exc.message
        retryable = isinstance(exc, anthropic.RateLimitError | anthropic.InternalServerError)  # 529 overloaded too
        return ProviderError(redact(f"Anthropic refused: {exc.status_code} {detail}", settings), retryable)
    retryable = isinstance(exc, anthropic.APIConnectionError)  # APITimeoutError is one too
    return ProviderError(redact(f"Anthropic call failed: {exc.message}", settings), retryable)
