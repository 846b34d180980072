"""A LoRA fine-tune on this machine (PEFT on transformers, CPU or GPU): load, step, evaluate, checkpoint, finish.

Everything here blocks (torch): the FINE_TUNE job calls it from a thread between its stop points. A run is
reproducible: the same plan and seed give the same batches (data.batch_indices), the same initial adapter
(seeded) and, after a restore, the same optimizer and random state as if it had never stopped.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
from pathlib import Path
from typing import Any

import torch
from peft import LoraConfig, get_peft_model, get_peft_model_state_dict, set_peft_model_state_dict
from transformers import AutoModelForCausalLM, AutoTokenizer

from tuneyard.providers.local.data import Plan, Tokenized, batch_indices, collate, tokenize

EVAL_EXAMPLES = 200  # validation examples evaluated (the first ones, always the same)
LORA_TARGETS = ["q_proj", "v_proj"]  # the attention projections of llama-style models
LORA_DROPOUT = 0.05


def device_for(choice: str) -> str:
    """ "cuda" when asked for or ("auto") when a GPU is there; else "cpu"."""
    if choice == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return choice


def load_base(path: Path) -> tuple[Any, Any]:
    """(model, tokenizer) from a model directory or a GGUF file (dequantized to float32)."""
    if not path.is_file():
        return AutoModelForCausalLM.from_pretrained(path), AutoTokenizer.from_pretrained(path)
    model: Any = AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name)
    # The weights are plain float tensors once loaded, but the model still carries the GGUF loader, which refuses
    # to save it: forget the loader so that the merged model saves as ordinary safetensors.
    assert all(p.dtype.is_floating_point for p in model.parameters())
    model.hf_quantizer = None
    model.is_quantized = False
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    return model, AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)


def file_digest(path: Path) -> str:
    """sha256 of a file, or of a directory's files in name order (what a manifest names the base model by)."""
    digest = hashlib.sha256()
    for file in [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(file.relative_to(path.parent if path.is_file() else path).as_posix().encode() + b"\0")
        with open(file, "rb") as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
    return digest.hexdigest()


class Training:
    """One LoRA run: the model with its adapter, the optimizer, and the step reached."""

    def __init__(self, plan: Plan, device_name: str) -> None:
        self.plan = plan
        self.device = device_name
        torch.manual_seed(plan.seed)
        model, self.tokenizer = load_base(plan.base_path)
        self.pad_id = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else (
            self.tokenizer.eos_token_id)  # fmt: skip
        config = LoraConfig(r=plan.lora_rank, lora_alpha=2 * plan.lora_rank, lora_dropout=LORA_DROPOUT,
                            target_modules=LORA_TARGETS, task_type="CAUSAL_LM")  # fmt: skip
        self.model = get_peft_model(model, config).to(device_name)
        self.train = [tokenize(self.tokenizer, chat, plan.max_length) for chat in plan.train]
        self.validation = [tokenize(self.tokenizer, chat, plan.max_length) for chat in plan.validation[:EVAL_EXAMPLES]]
        trainable = [p for p in self.model.parameters() if p.requires_grad]
        self.optimizer = torch.optim.AdamW(trainable, lr=plan.learning_rate)
        self.step = 0
        self.trained_tokens = 0

    def _batch(self, items: list[Tokenized]) -> dict[str, Any]:
        return {k: v.to(self.device) for k, v in collate(items, self.pad_id).items()}

    def train_step(self) -> float:
        """One optimizer step on the next batch; its loss (mean over the assistant's tokens)."""
        self.model.train()
        chosen = batch_indices(len(self.train), self.plan.batch_size, self.plan.seed, self.step)
        batch = self._batch([self.train[i] for i in chosen])
        loss = self.model(**batch).loss
        loss.backward()
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.step += 1
        self.trained_tokens += int(batch["attention_mask"].sum())
        return float(loss.item())

    def evaluate(self) -> float | None:
        """Mean loss per assistant token over the validation examples (None without a validation split)."""
        if not self.validation:
            return None
        self.model.eval()
        total, tokens = 0.0, 0
        with torch.no_grad():
            for start in range(0, len(self.validation), self.plan.batch_size):
                batch = self._batch(self.validation[start : start + self.plan.batch_size])
                counted = int((batch["labels"][:, 1:] != -100).sum())
                if counted:
                    total += float(self.model(**batch).loss.item()) * counted
                    tokens += counted
        return total / tokens if tokens else math.nan

    def save_checkpoint(self, directory: Path) -> None:
        """The adapter, optimizer and random state at this step, written whole (a temporary folder renamed)."""
        temporary = directory.with_name(directory.name + ".part")
        shutil.rmtree(temporary, ignore_errors=True)
        temporary.mkdir(parents=True)
        torch.save(get_peft_model_state_dict(self.model), temporary / "adapter.pt")
        torch.save(self.optimizer.state_dict(), temporary / "optimizer.pt")
        torch.save(torch.get_rng_state(), temporary / "rng.pt")
        (temporary / "state.json").write_text(json.dumps({"step": self.step, "trainedTokens": self.trained_tokens}))
        shutil.rmtree(directory, ignore_errors=True)
        os.replace(temporary, directory)

    def restore(self, directory: Path) -> None:
        """Continue from a checkpoint save_checkpoint wrote."""
        set_peft_model_state_dict(self.model, torch.load(directory / "adapter.pt", weights_only=True))
        self.optimizer.load_state_dict(torch.load(directory / "optimizer.pt", weights_only=True))
        torch.set_rng_state(torch.load(directory / "rng.pt", weights_only=True))
        state = json.loads((directory / "state.json").read_text())
        self.step, self.trained_tokens = state["step"], state["trainedTokens"]

    def finish(self, output: Path) -> None:
        """Write the adapter, then the merged model with its tokenizer and chat template (safetensors)."""
        self.model.save_pretrained(str(output / "adapter"))
        merged: Any = self.model.merge_and_unload()
        merged.save_pretrained(str(output / "merged"), safe_serialization=True)
        self.tokenizer.save_pretrained(str(output / "merged"))
