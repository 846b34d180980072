"""Export formats: one module per ExportFormat behind exporters.base.Exporter."""

from __future__ import annotations

from tuneyard.datasets.exports.formats.alpaca import Alpaca
from tuneyard.datasets.exports.formats.anthropic_bedrock import AnthropicBedrock
from tuneyard.datasets.exports.formats.base import Exporter, TrainingText, training_text
from tuneyard.datasets.exports.formats.gemini_vertex import GeminiVertex
from tuneyard.datasets.exports.formats.openai_chat import OpenAIChat
from tuneyard.datasets.exports.formats.raw import Raw
from tuneyard.datasets.exports.formats.sharegpt import ShareGPT
from tuneyard.datasets.models import ExportFormat

EXPORTERS: dict[ExportFormat, Exporter] = {
    e.format: e for e in (OpenAIChat(), AnthropicBedrock(), GeminiVertex(), ShareGPT(), Alpaca(), Raw())
}

__all__ = ["EXPORTERS", "Exporter", "TrainingText", "exporter_for", "training_text"]


def exporter_for(fmt: ExportFormat) -> Exporter:
    return EXPORTERS[fmt]
