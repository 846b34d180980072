"""SQL for fine-tunes: the LOCAL calibrations estimates reuse."""

from __future__ import annotations

from tuneyard.core.db import Executor

Key = tuple[str, int, int, int, str]  # base model, batch size, max length, LoRA rank, device


async def calibration(conn: Executor, key: Key) -> tuple[float, float, int] | None:
    """(load seconds, seconds per step, peak memory bytes) measured for the key, if any."""
    row = await conn.fetchrow(
        """SELECT load_seconds, seconds_per_step, peak_memory_bytes FROM local_calibrations
           WHERE base_model = $1 AND batch_size = $2 AND max_length = $3 AND lora_rank = $4 AND device = $5""",
        *key,
    )
    return None if row is None else (row[0], row[1], row[2])


async def save_calibration(conn: Executor, key: Key, load: float, per_step: float, memory: int) -> None:
    await conn.execute(
        """INSERT INTO local_calibrations (base_model, batch_size, max_length, lora_rank, device, load_seconds,
                                           seconds_per_step, peak_memory_bytes)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
           ON CONFLICT (base_model, batch_size, max_length, lora_rank, device) DO UPDATE
           SET load_seconds = $6, seconds_per_step = $7, peak_memory_bytes = $8, measured_at = now()""",
        *key, load, per_step, memory,
    )  # fmt: skip
