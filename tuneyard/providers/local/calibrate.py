"""Measure a LOCAL fine-tune on this machine: load time, seconds per step and peak memory, from a few real steps.

Run as its own process (`python -m tuneyard.providers.local.calibrate BASE_PATH BATCH MAX_LENGTH RANK DEVICE`) so
that its memory is measured alone and freed afterwards; prints one JSON object. Every example is as long as
`MAX_LENGTH` allows, so the figures are an upper bound for the real data.
"""

from __future__ import annotations

import resource
import sys
import time
from pathlib import Path

import orjson

from tuneyard.providers.local.data import Chat, Plan
from tuneyard.providers.local.training import Training, device_for

STEPS = 3  # timed after one untimed warm-up step


def measure(base: Path, batch_size: int, max_length: int, lora_rank: int, device: str) -> dict[str, float]:
    words = " ".join(f"word{i}" for i in range(max_length))  # more tokens than max_length keeps
    chats = [Chat("You plan.", words, words)] * batch_size
    plan = Plan(base.name, base, chats, [], epochs=STEPS + 1, max_steps=STEPS + 1, batch_size=batch_size,
                learning_rate=1e-4, lora_rank=lora_rank, max_length=max_length, seed=0)  # fmt: skip
    started = time.perf_counter()
    training = Training(plan, device_for(device))
    loaded = time.perf_counter()
    training.train_step()
    warm = time.perf_counter()
    for _ in range(STEPS):
        training.train_step()
    done = time.perf_counter()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # kilobytes on Linux
    return {"loadSeconds": loaded - started, "secondsPerStep": (done - warm) / STEPS, "peakMemoryBytes": peak}


if __name__ == "__main__":
    path, batch, length, rank, where = sys.argv[1:6]
    sys.stdout.write(orjson.dumps(measure(Path(path), int(batch), int(length), int(rank), where)).decode() + "\n")
