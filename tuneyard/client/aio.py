"""AsyncTuneyardClient: what an asyncio orchestrator uses to record its executions and read its active model."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from tuneyard.client.active_model import ActiveModel, ActiveModelCache
from tuneyard.client.errors import TuneyardUnavailable
from tuneyard.client.execution import Execution, encode
from tuneyard.client.sender import DeliveryStats, Sender
from tuneyard.client.spool import Spool
from tuneyard.client.wire import MAX_BATCH, GraphQL, RetryLater

log = logging.getLogger("tuneyard.client")


class AsyncTuneyardClient:
    """Records executions in the background and answers the active model from a cache.

    `url`: the server (its /graphql endpoint, or the address it is served at); `token`: CURATOR or ADMIN, since it
    records. `spool_dir` holds the spool (executions not yet acknowledged, kept while the server is away),
    rejected.jsonl (executions refused as bad input) and the last active models; one client at a time per folder.
    Create it inside a running event loop (it starts its sender task at once, which delivers what an earlier run
    left in the spool), and close it, or use `async with`: close() spools what the server has not acknowledged.
    """

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
        if not 1 <= batch_size <= MAX_BATCH:
            raise ValueError(f"batch_size must be 1..{MAX_BATCH}, the most the server takes in one call")
        folder = Path(spool_dir)
        spool = Spool(folder)
        self._graphql = GraphQL(url, token, timeout)
        self._sender = Sender(
            self._graphql.record, spool, batch_size=batch_size, flush_interval=flush_interval, max_backoff=max_backoff
        )
        self._active = ActiveModelCache(folder / "active-models.json", active_model_ttl)
        self._closed = False

    def record(self, execution: Execution | Mapping[str, Any]) -> None:
        """Queue one execution (an Execution, or a dict of its fields in snake_case or camelCase) and return at once.
        Safe to call from any thread. A value JSON cannot hold, or an unknown field, raises here."""
        if self._closed:
            raise RuntimeError("this Tuneyard client is closed")
        self._sender.put(*encode(execution))

    # A timeout, not a cancellation (asyncio.timeout): on timeout flush says so, and close still spools.
    async def flush(self, timeout: float | None = None) -> bool:  # noqa: ASYNC109
        """Wait until every execution recorded so far is acknowledged by the server or spooled to disk (or rejected
        as bad input). False if `timeout` seconds passed first."""
        return await self._sender.flush(timeout)

    async def close(self, timeout: float | None = None) -> bool:  # noqa: ASYNC109
        """Flush (for at most `timeout` seconds), then stop; what is still unacknowledged is spooled, for the next
        client on this spool_dir to deliver. True when the flush completed in time."""
        if self._closed:
            return True
        self._closed = True
        try:
            return await self._sender.close(timeout)
        finally:
            await self._graphql.aclose()

    def stats(self) -> DeliveryStats:
        return self._sender.stats()

    async def active_model(self, purpose: str = "orchestrator") -> ActiveModel | None:
        """The purpose's active model (None: it has none), asked of the server at most once per active_model_ttl.
        While the server is away: the last answer, with `stale` set, even one from an earlier run; raises
        TuneyardUnavailable when there is none. Other refusals (a bad token...) raise TuneyardError."""
        cached = self._active.fresh(purpose)
        if cached is not None:
            return cached.value
        try:
            found = await self._graphql.active_model(purpose)
        except RetryLater as why:
            known = self._active.last_known(purpose)
            if known is None:
                raise TuneyardUnavailable(
                    f"cannot ask Tuneyard for the active model ({why}), and none is known"
                ) from why
            log.warning("Tuneyard client: cannot ask for the active model (%s); using the last one known", why)
            return known.value
        return self._active.store(purpose, found)

    async def __aenter__(self) -> AsyncTuneyardClient:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        await self.close()
