"""The provider settings every fine-tuning test's server and workers get: each provider at its stand-in."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.standins.anthropic_api import AnthropicStandIn
from tests.support.standins.ollama_api import OllamaStandIn
from tests.support.standins.openai_api import OpenAIStandIn
from tests.support.standins.vertex_api import VertexStandIn

OPENAI_KEY = "sk-test-0123456789abcdef"
ANTHROPIC_KEY = "sk-ant-test-0123456789abcdef"
VERTEX_TOKEN = "ya29.test-token-0123456789"
PROJECT, LOCATION, BUCKET = "tuneyard-test", "us-central1", "tuneyard-test-bucket"


TINY = "tiny-llama"  # the LOCAL base model tests train: tests.support.tiny_model


def provider_env(
    openai_api: OpenAIStandIn, vertex_api: VertexStandIn, ollama_api: OllamaStandIn, anthropic_api: AnthropicStandIn,
    tiny_model: Path,
) -> dict[str, str]:  # fmt: skip
    return {
        "TUNEYARD_OLLAMA_URL": ollama_api.url, "TUNEYARD_LOCAL_MODELS": json.dumps({TINY: str(tiny_model)}),
        "TUNEYARD_OPENAI_API_KEY": OPENAI_KEY, "TUNEYARD_OPENAI_BASE_URL": openai_api.api_url,
        "TUNEYARD_VERTEX_PROJECT": PROJECT, "TUNEYARD_VERTEX_LOCATION": LOCATION, "TUNEYARD_VERTEX_BUCKET": BUCKET,
        "TUNEYARD_VERTEX_ACCESS_TOKEN": VERTEX_TOKEN, "TUNEYARD_VERTEX_BASE_URL": vertex_api.vertex_url,
        "TUNEYARD_GCS_BASE_URL": vertex_api.gcs_url, "TUNEYARD_FINE_TUNE_POLL_SECONDS": "0.2",
        "TUNEYARD_ANTHROPIC_API_KEY": ANTHROPIC_KEY, "TUNEYARD_ANTHROPIC_BASE_URL": anthropic_api.url,
        "NO_GCE_CHECK": "true",  # google-auth must never probe a metadata server
    }  # fmt: skip
