"""The sender: one asyncio task that delivers recorded executions in order, in batches, and spools them to disk
while the server cannot take them.

A recorded execution stays in memory (waiting, or in the batch being sent) until the server acknowledged it, or it
is appended to the spool, or written to rejected.jsonl; it stays in the spool until the server acknowledged (or
refused) it. So it may be sent again (after a lost answer, a crash), never dropped; sending again is safe, since the
server upserts by executionId and counts a repeat as unchanged.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable
from contextlib import suppress
from dataclasses import dataclass

from tuneyard.client.errors import TuneyardError
from tuneyard.client.spool import Entry, Spool, SpoolBatch
from tuneyard.client.wire import Refused, RetryLater

log = logging.getLogger("tuneyard.client")

FIRST_RETRY = 0.1  # seconds before the first retry; doubled after each failure in a row, up to max_backoff

Send = Callable[[list[str]], Awaitable[tuple[int, int, int]]]


@dataclass(frozen=True, slots=True)
class DeliveryStats:
    """What a client has done so far. The server's counts include what it delivered from an earlier run's spool."""

    recorded: int  # record() calls on this client
    inserted: int  # the server's counts, summed over its answers
    updated: int
    unchanged: int  # sent again after an answer was lost, or recorded again as they were
    rejected: int  # refused as bad input, now in rejected.jsonl
    waiting: int  # in memory: neither acknowledged nor spooled yet
    spooled: int  # in the spool, not acknowledged yet

    @property
    def acknowledged(self) -> int:
        return self.inserted + self.updated + self.unchanged


class Sender:
    """Batches of at most `batch_size` go when that many wait, `flush_interval` seconds after the oldest was
    recorded, or at once for a flush. While the spool holds executions (the server was away), new ones are appended
    behind them and the spool is sent first, so that the server receives executions in the order they were recorded
    (a later record of the same executionId updates the earlier one)."""

    def __init__(self, send: Send, spool: Spool, *, batch_size: int, flush_interval: float, max_backoff: float) -> None:
        self._send = send
        self._spool = spool
        self._batch_size = batch_size
        self._flush_interval = flush_interval
        self._max_backoff = max_backoff
        self._lock = threading.Lock()  # put() comes from any thread (the sync client's callers)
        self._memory: deque[Entry] = deque()
        self._recorded = 0
        self._batch: list[Entry] = []  # being delivered: taken from memory, or the spool's head
        self._head: SpoolBatch | None = None  # set while _batch is the spool's head
        self._flush_upto = 0  # the last record a flush waits for
        self._settled = 0  # every record up to this one is acknowledged, spooled or rejected
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []
        self._counts = [0, 0, 0]
        self._rejected = 0
        self._delay = 0.0  # the current backoff; 0 while the server answers
        self._retry_at = 0.0
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._task = self._loop.create_task(self._run(), name="tuneyard-client-sender")

    def put(self, execution_id: str, body: str) -> None:
        with self._lock:
            self._recorded += 1
            self._memory.append(Entry(execution_id, body, self._recorded, time.monotonic()))
            waiting = len(self._memory)
        if waiting in (1, self._batch_size):  # the first starts the flush_interval clock; a full batch goes now
            self._loop.call_soon_threadsafe(self._wake.set)

    async def flush(self, timeout: float | None) -> bool:  # noqa: ASYNC109 (see AsyncTuneyardClient.flush)
        """Wait until every execution recorded so far is acknowledged, spooled or rejected; False on timeout."""
        target = self._recorded
        if self._settled >= target:
            return True
        self._flush_upto = max(self._flush_upto, target)
        waiter = self._loop.create_future()
        self._waiters.append((target, waiter))
        self._wake.set()
        try:
            await asyncio.wait_for(waiter, timeout)
        except TimeoutError:
            return False
        return True

    async def close(self, timeout: float | None) -> bool:  # noqa: ASYNC109
        """Flush, stop, and spool whatever a flush that timed out left in hand: after close, nothing is only in
        memory. True when the flush completed in time."""
        flushed = await self.flush(timeout)
        self._task.cancel()
        await asyncio.wait([self._task])
        if self._head is None:
            self._spool.append(self._batch)
        self._batch, self._head = [], None
        self._spool_memory()
        self._settle()
        return flushed

    def stats(self) -> DeliveryStats:
        with self._lock:
            waiting = len(self._memory) + (len(self._batch) if self._head is None else 0)
        inserted, updated, unchanged = self._counts
        return DeliveryStats(self._recorded, inserted, updated, unchanged, self._rejected, waiting, self._spool.count)

    async def _run(self) -> None:
        while True:
            await self._until_due()
            try:
                await self._round()
            except Exception as error:  # a full disk, a bug: the task lives on, with what it holds
                log.exception("Tuneyard client: delivery failed unexpectedly")
                self._failed(error)
            self._settle()

    async def _until_due(self) -> None:
        while True:
            self._wake.clear()
            wait = self._due_at() - time.monotonic()
            if wait <= 0:
                return
            with suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), None if math.isinf(wait) else wait)

    def _due_at(self) -> float:
        """When the task next has work (time.monotonic); inf when only a record or a flush can give it some."""
        if self._spool.count:  # a backlog: retry it when due; spool what comes meanwhile when that is due
            return min(self._retry_at, self._memory_due_at())
        if self._batch:
            return self._retry_at
        return self._memory_due_at()

    def _memory_due_at(self) -> float:
        with self._lock:
            if not self._memory:
                return math.inf
            if len(self._memory) >= self._batch_size or self._flush_upto > self._settled:
                return 0.0
            return self._memory[0].at + self._flush_interval

    async def _round(self) -> None:
        now = time.monotonic()
        if self._spool.count and self._memory_due_at() <= now:
            self._spool_memory()  # behind the backlog, on disk
        if not self._batch and self._head is None:
            self._batch, self._head = self._take(now)
        if (not self._batch and self._head is None) or now < self._retry_at:
            return
        try:
            await self._deliver(self._batch)
        except RetryLater as why:
            if self._head is None:  # taken from memory: make it, and all recorded after it, durable meanwhile
                self._spool.append(self._batch)
                self._batch = []
                self._spool_memory()
            self._failed(why)
            return
        if self._head is not None:
            self._spool.acknowledge(self._head)
            self._head = None
        self._recovered()

    def _take(self, now: float) -> tuple[list[Entry], SpoolBatch | None]:
        """The next batch: the spool's head while it has a backlog, else what is due in memory, stopping before an
        executionId already in the batch (a call takes each once; the later record is an update, sent next)."""
        if self._spool.count:
            head = self._spool.head(self._batch_size)
            return head.entries, head
        if self._memory_due_at() > now:
            return [], None
        batch: list[Entry] = []
        seen: set[str] = set()
        with self._lock:
            while self._memory and len(batch) < self._batch_size and self._memory[0].execution_id not in seen:
                seen.add(self._memory[0].execution_id)
                batch.append(self._memory.popleft())
        return batch, None

    async def _deliver(self, batch: list[Entry]) -> None:
        """Send `batch` until each execution is acknowledged or rejected, taking each out of it as it is. A refusal
        that names examples rejects those and sends the rest again; one that names none (a body too large) halves
        the part sent, down to a single execution, which is then rejected. RetryLater leaves the rest in `batch`."""
        size = len(batch)
        while batch:
            part = batch[:size]
            try:
                counts = await self._send([entry.body for entry in part])
            except Refused as refusal:
                named = {index: why for index, why in refusal.named.items() if index < len(part)}
                if not named and len(part) > 1:
                    size = len(part) // 2
                    continue
                for index, why in sorted((named or {0: str(refusal)}).items(), reverse=True):
                    self._reject(batch[index], why)
                    del batch[index]
                continue
            except TuneyardError as error:  # e.g. a token without the role: not the executions' fault, so keep them
                raise RetryLater(str(error)) from error
            self._counts = [total + count for total, count in zip(self._counts, counts, strict=True)]
            del batch[: len(part)]

    def _reject(self, entry: Entry, error: str) -> None:
        self._spool.reject(entry.body, error)
        self._rejected += 1
        log.warning(
            "Tuneyard refused execution %r: %s (kept in %s)", entry.execution_id, error, self._spool.rejected_path
        )

    def _spool_memory(self) -> None:
        with self._lock:
            entries = list(self._memory)
        self._spool.append(entries)
        with self._lock:
            for _ in entries:
                self._memory.popleft()

    def _settle(self) -> None:
        """Note up to which record everything is acknowledged, spooled or rejected, and end the flushes it ends."""
        with self._lock:
            if self._batch and self._head is None:
                first = self._batch[0].seq
            else:
                first = self._memory[0].seq if self._memory else self._recorded + 1
        self._settled = first - 1
        for target, waiter in self._waiters:
            if target <= self._settled and not waiter.done():
                waiter.set_result(None)
        self._waiters = [(target, waiter) for target, waiter in self._waiters if not waiter.done()]

    def _failed(self, why: object) -> None:
        self._delay = min(self._max_backoff, self._delay * 2 or FIRST_RETRY)
        wait = self._delay * random.uniform(0.5, 1)  # spread out: clients that lost the server together retry apart
        self._retry_at = time.monotonic() + wait
        log.warning(
            "Tuneyard client: cannot deliver now (%s); %d spooled, retrying in %.1f s", why, self._spool.count, wait
        )

    def _recovered(self) -> None:
        if self._delay:
            log.info("Tuneyard client: the server takes executions again")
            self._delay = self._retry_at = 0.0
