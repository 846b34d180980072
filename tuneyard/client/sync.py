"""TuneyardClient: the same client for code without an event loop. It runs an AsyncTuneyardClient on an event loop
of its own, in a background thread, so that both behave alike to the letter."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from tuneyard.client.active_model import ActiveModel
from tuneyard.client.aio import AsyncTuneyardClient
from tuneyard.client.execution import Execution
from tuneyard.client.sender import DeliveryStats

T = TypeVar("T")


class TuneyardClient:
    """Records executions in the background and answers the active model from a cache; see AsyncTuneyardClient for
    the arguments. Close it, or use `with`: close() spools what the server has not acknowledged."""

    def __init__(
        self,
        url: str,
        token: str,
        *,
        spool_dir: str | Path,
        batch_size: int = 500,
        flush_interval: float = 1.0,
        timeout: float = 10.0,
        active_model_ttl: float = 60.0,
        max_backoff: float = 10.0,
    ) -> None:
        self._loop = asyncio.new_event_loop()
        # A daemon: a client never closed does not keep the process alive (what it held in memory is then lost).
        self._thread = threading.Thread(target=self._loop.run_forever, name="tuneyard-client", daemon=True)
        self._thread.start()

        async def start() -> AsyncTuneyardClient:
            return AsyncTuneyardClient(
                url, token, spool_dir=spool_dir, batch_size=batch_size, flush_interval=flush_interval,
                timeout=timeout, active_model_ttl=active_model_ttl, max_backoff=max_backoff,
            )  # fmt: skip

        try:
            self._client = self._call(start())
        except BaseException:
            self._stop_loop()
            raise
        self._closed = False

    def record(self, execution: Execution | Mapping[str, Any]) -> None:
        """Queue one execution (an Execution, or a dict of its fields in snake_case or camelCase) and return at once.
        Thread-safe. A value JSON cannot hold, or an unknown field, raises here."""
        self._client.record(execution)

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every execution recorded so far is acknowledged by the server or spooled to disk (or rejected
        as bad input). False if `timeout` seconds passed first."""
        return self._call(self._client.flush(timeout))

    def close(self, timeout: float | None = None) -> bool:
        """Flush (for at most `timeout` seconds), then stop; what is still unacknowledged is spooled, for the next
        client on this spool_dir to deliver. True when the flush completed in time."""
        if self._closed:
            return True
        self._closed = True
        try:
            return self._call(self._client.close(timeout))
        finally:
            self._stop_loop()

    def stats(self) -> DeliveryStats:
        return self._client.stats()

    def active_model(self, purpose: str = "orchestrator") -> ActiveModel | None:
        """The purpose's active model (None: it has none), asked of the server at most once per active_model_ttl.
        While the server is away: the last answer, with `stale` set, even one from an earlier run; raises
        TuneyardUnavailable when there is none. Other refusals (a bad token...) raise TuneyardError."""
        return self._call(self._client.active_model(purpose))

    def __enter__(self) -> TuneyardClient:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()

    def _call(self, work: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(work, self._loop).result()

    def _stop_loop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()
