"""Export formats: one module per ExportFormat behind exporters.base.Exporter."""

from __future__ import annotations

from tuneyard.domain.datasets import ExportFormat
from tuneyard.exporters.alpaca import Alpaca
from tuneyard.exporters.anthropic_bedrock import AnthropicBedrock
from tuneyard.exporters.base import Exporter, TrainingText, training_text
from tuneyard.exporters.gemini_vertex import GeminiVertex
from tuneyard.exporters.openai_chat import OpenAIChat
from tuneyard.exporters.raw import Raw
from tuneyard.exporters.sharegpt import ShareGPT

EXPORTERS: dict[ExportFormat, Exporter] = {
    e.format: e for e in (OpenAIChat(), AnthropicBedrock(), GeminiVertex(), ShareGPT(), Alpaca(), Raw())
}

__all__ = ["EXPORTERS", "Exporter", "TrainingText", "exporter_for", "training_text"]


def exporter_for(fmt: ExportFormat) -> Exporter:
    return EXPORTERS[fmt]
