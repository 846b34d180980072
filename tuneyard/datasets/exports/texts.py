"""A version's training texts: their tokens per split (counted once, as the exporters count them), and the texts of
a split's first members (what a benchmark asks)."""

from __future__ import annotations

import asyncio
import heapq

import asyncpg

from tuneyard.datasets.exports import repository as repo
from tuneyard.datasets.exports.formats import tokens
from tuneyard.datasets.exports.formats.base import SYSTEM_PROMPT, TrainingText, user_text
from tuneyard.datasets.exports.formats.tokens import TOKENIZER
from tuneyard.datasets.exports.models import BATCH, MAX_LARGEST, TokenCounts
from tuneyard.datasets.exports.writer import token_counter
from tuneyard.datasets.models import Dataset, Split


async def token_counts(pool: asyncpg.Pool, dataset: Dataset) -> TokenCounts:
    """The version's training-text tokens per split, counted as the exporters count them (every format trains on
    the same texts); counted once, then read back (a version never changes)."""
    found = await repo.token_counts(pool, dataset.id)
    if found is not None:
        return found
    totals = {Split.TRAIN.value: 0, Split.VALIDATION.value: 0}
    largest: list[int] = []  # a min-heap of the biggest counts
    loop = asyncio.get_running_loop()
    with token_counter(dataset.example_count) as counter:
        async with pool.acquire() as conn, conn.transaction(readonly=True):
            cursor = await conn.cursor(repo.STREAM_TEXT_SQL, dataset.id)
            while rows := await cursor.fetch(BATCH):
                users = [user_text(r[2], r[3], r[4], r[5]) for r in rows]
                assistants = [r[6] or "" for r in rows]
                counts = await loop.run_in_executor(counter, tokens.count_examples, users, assistants)
                for row, count in zip(rows, counts, strict=True):
                    totals[row[1]] += count
                    if len(largest) < MAX_LARGEST:
                        heapq.heappush(largest, count)
                    elif count > largest[0]:
                        heapq.heapreplace(largest, count)
    counted = TokenCounts(
        TOKENIZER, totals[Split.TRAIN.value], totals[Split.VALIDATION.value], sorted(largest, reverse=True)
    )
    await repo.save_token_counts(pool, dataset.id, counted)
    return counted


async def split_texts(pool: asyncpg.Pool, dataset: Dataset, split: Split, limit: int) -> list[TrainingText]:
    """The training texts (system, user, assistant = the recorded plan as JSON) of a split's first members: what
    a benchmark asks a model, and the answer it is scored against."""
    rows = await repo.split_texts(pool, dataset.id, split, limit)
    return [TrainingText(SYSTEM_PROMPT, user_text(r[2], r[3], r[4], r[5]), r[6] or "") for r in rows]
