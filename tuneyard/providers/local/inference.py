"""Answers of a LOCAL model on this machine: greedy generation with transformers, in the caller's thread (blocking).

Loading a model takes a while (SmolLM2 from its GGUF file: about 18 s), and a benchmark asks one model many times in
a row, so the model last used stays loaded: one at a time, to hold the memory of one. A lock lets one thread load or
generate at a time: two loads of one model would hold it twice, and threads generating at once on one CPU model only
share its cores.

torch is imported here, inside the functions, so that the server imports the providers without the [local] extra.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, NamedTuple


class Answer(NamedTuple):
    text: str
    prompt_tokens: int  # the chat template's tokens of the system and user messages, up to the assistant's turn
    generated_tokens: int  # every token generated, the end-of-turn token included


_lock = threading.Lock()
_loaded: dict[tuple[Path, str], tuple[Any, Any]] = {}  # (path, device) -> (model, tokenizer): the last one used


def answer(path: Path, device: str, system: str, user: str, max_tokens: int) -> Answer:
    """The greedy answer of the model at `path` (a model directory or a GGUF file) on `device` ("auto", "cpu", ...)."""
    import torch

    with _lock:
        model, tokenizer = _load(path, device)
        messages = [{"role": "system", "content": system}, {"role": "user", "content": user}]
        prompt = tokenizer.apply_chat_template(
            messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
        ).to(model.device)
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        with torch.no_grad():
            output = model.generate(**prompt, max_new_tokens=max_tokens, do_sample=False, pad_token_id=pad)
    prompt_tokens = prompt["input_ids"].shape[1]
    generated = output[0, prompt_tokens:]
    return Answer(tokenizer.decode(generated, skip_special_tokens=True), prompt_tokens, len(generated))


def _load(path: Path, device: str) -> tuple[Any, Any]:
    """The model and tokenizer at `path`, from memory when it was the last one used; else loaded in its place."""
    from tuneyard.providers.local.training import device_for, load_base

    key = (path, device_for(device))
    if key not in _loaded:
        _loaded.clear()  # before loading: the memory of the last model is freed first
        model, tokenizer = load_base(path)
        _loaded[key] = (model.to(key[1]).eval(), tokenizer)
    return _loaded[key]
