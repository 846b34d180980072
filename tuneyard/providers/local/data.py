"""Training data for a LOCAL fine-tune: chat texts tokenized with the base model's chat template, the loss on the
assistant turn only, in a fixed order per seed and epoch (so a resumed run sees the batches an uninterrupted one
would)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

IGNORE = -100  # the label of a token the loss skips (prompt and padding)


@dataclass(frozen=True, slots=True)
class Chat:
    system: str
    user: str
    assistant: str


@dataclass(frozen=True, slots=True)
class Tokenized:
    input_ids: list[int]
    labels: list[int]  # IGNORE on the prompt: only the assistant's answer is learned


@dataclass(frozen=True, slots=True)
class Plan:
    """Everything a run depends on: its result is a function of this (and of the library versions)."""

    base_name: str
    base_path: Path  # a Hugging Face model directory, or a .gguf file
    train: list[Chat]
    validation: list[Chat]
    epochs: int
    max_steps: int | None
    batch_size: int
    learning_rate: float
    lora_rank: int
    max_length: int
    seed: int

    @property
    def total_steps(self) -> int:
        return plan_steps(len(self.train), self.epochs, self.batch_size, self.max_steps)


def tokenize(tokenizer: Any, chat: Chat, max_length: int) -> Tokenized:
    """The chat as the base model's template writes it; the prompt part (up to the assistant's turn) unlearned.

    A chat longer than max_length keeps its answer: the prompt loses its beginning (at most half the window is
    taken from it for the answer), so that every example teaches something.
    """
    prompt = [{"role": "system", "content": chat.system}, {"role": "user", "content": chat.user}]
    whole = [*prompt, {"role": "assistant", "content": chat.assistant}]
    prompt_ids = list(tokenizer.apply_chat_template(prompt, add_generation_prompt=True, tokenize=True,
                                                    return_dict=True)["input_ids"])  # fmt: skip
    whole_ids = list(tokenizer.apply_chat_template(whole, tokenize=True, return_dict=True)["input_ids"])
    split = _common_prefix(prompt_ids, whole_ids)  # where the answer starts (a template may rewrite the prompt)
    prompt_ids, answer = whole_ids[:split], whole_ids[split:]
    kept_prompt = min(len(prompt_ids), max(max_length - len(answer), max_length // 2))
    kept_answer = max_length - kept_prompt
    ids = prompt_ids[len(prompt_ids) - kept_prompt :] + answer[:kept_answer]
    return Tokenized(ids, [IGNORE] * kept_prompt + answer[:kept_answer])


def _common_prefix(a: list[int], b: list[int]) -> int:
    return next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))


def batches_per_epoch(examples: int, batch_size: int) -> int:
    return math.ceil(examples / batch_size)


def plan_steps(examples: int, epochs: int, batch_size: int, max_steps: int | None) -> int:
    """The optimizer steps of a run: every batch of every epoch, or max_steps if fewer."""
    steps = epochs * batches_per_epoch(examples, batch_size)
    return steps if max_steps is None else min(steps, max_steps)


def batch_indices(examples: int, batch_size: int, seed: int, step: int) -> list[int]:
    """The examples of global step `step` (0-based): epoch after epoch, each in its own seeded order."""
    import torch

    per_epoch = batches_per_epoch(examples, batch_size)
    epoch, within = divmod(step, per_epoch)
    order = torch.randperm(examples, generator=torch.Generator().manual_seed(seed * 1_000_003 + epoch)).tolist()
    return order[within * batch_size : (within + 1) * batch_size]


def collate(items: list[Tokenized], pad_id: int) -> dict[str, Any]:
    """Right-padded tensors: input_ids, attention_mask, labels (padding unlearned)."""
    import torch

    width = max(len(i.input_ids) for i in items)
    ids = [i.input_ids + [pad_id] * (width - len(i.input_ids)) for i in items]
    mask = [[1] * len(i.input_ids) + [0] * (width - len(i.input_ids)) for i in items]
    labels = [i.labels + [IGNORE] * (width - len(i.labels)) for i in items]
    return {"input_ids": torch.tensor(ids), "attention_mask": torch.tensor(mask), "labels": torch.tensor(labels)}
