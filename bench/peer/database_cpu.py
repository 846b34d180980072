"""The CPU PostgreSQL spends on one server's requests: its connections' backends and their parallel workers.

A server's backends are found from its own TCP connections: the local ports of the server process's sockets to
PostgreSQL's port, matched with pg_stat_activity.client_port. Their CPU is read from /proc (PostgreSQL runs on this
machine). A backend may start parallel workers for a query (the stats count does): short-lived children of the
postmaster, whose leader pg_stat_activity.leader_pid names. A thread samples their CPU every 10 ms while they live,
since the CPU of a process that has ended can no longer be read; what a worker uses after its last sample (under
10 ms of its life, which under load lasts hundreds) goes uncounted.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field

import asyncpg

from bench.peer import proc

SAMPLE_EVERY_S = 0.01
# A new child of the postmaster that pg_stat_activity does not list after this many samples is no backend (a
# parallel worker is listed within a millisecond or two of its start).
UNLISTED_SAMPLES = 20


class ParallelWorkers(threading.Thread):
    """Samples the CPU of the postmaster's parallel workers until stopped; `used` sums those of given leaders.

    It reads pg_stat_activity (on a connection of its own) only when the postmaster has children it does not know
    yet: while a query that runs no parallel workers is measured, it only lists the postmaster's children.
    """

    def __init__(self, postmaster: int, database_url: str) -> None:
        super().__init__(name="parallel-workers", daemon=True)
        self.postmaster, self.database_url = postmaster, database_url
        self.stopping = threading.Event()
        self.leader_of: dict[int, int] = {}  # parallel worker -> its leader backend
        self.others: set[int] = set()  # children that are not parallel workers
        self.unlisted: dict[int, int] = {}  # children not in pg_stat_activity yet -> samples so far
        self.baseline: dict[int, float] = {}  # CPU a child had used when sampling began
        self.latest: dict[int, float] = {}  # CPU a worker had used at its latest sample
        self.failure: BaseException | None = None

    def run(self) -> None:
        try:
            asyncio.run(self._sample_until_stopped())
        except BaseException as error:  # reported by stop(), in the measuring thread
            self.failure = error

    def stop(self) -> None:
        self.stopping.set()
        self.join()
        if self.failure is not None:
            raise self.failure

    def used(self, leaders: set[int]) -> float:
        mine = [w for w, leader in self.leader_of.items() if leader in leaders and w in self.latest]
        return sum(self.latest[w] - self.baseline.get(w, 0.0) for w in mine)

    async def _sample_until_stopped(self) -> None:
        connection = await asyncpg.connect(self.database_url)
        try:
            for pid in proc.children(self.postmaster):
                try:
                    self.baseline[pid] = proc.cpu_seconds(pid)
                except ProcessLookupError:
                    continue
            while True:
                stopping = self.stopping.is_set()  # one last sample after the request to stop
                await self._sample(connection)
                if stopping:
                    return
                await asyncio.sleep(SAMPLE_EVERY_S)
        finally:
            await connection.close()

    async def _sample(self, connection: asyncpg.Connection) -> None:
        children = proc.children(self.postmaster)
        new = [pid for pid in children if pid not in self.leader_of and pid not in self.others]
        if new:
            rows = await connection.fetch(
                "SELECT pid, backend_type, leader_pid FROM pg_stat_activity WHERE pid = ANY($1::int[])", new
            )
            for row in rows:
                if row["backend_type"] == "parallel worker" and row["leader_pid"] is not None:
                    self.leader_of[row["pid"]] = row["leader_pid"]
                else:
                    self.others.add(row["pid"])
            for pid in set(new) - {row["pid"] for row in rows}:
                self.unlisted[pid] = self.unlisted.get(pid, 0) + 1
                if self.unlisted[pid] >= UNLISTED_SAMPLES:
                    self.others.add(pid)
        for pid in children:
            if pid in self.leader_of:
                try:
                    self.latest[pid] = proc.cpu_seconds(pid)
                except ProcessLookupError:  # it ended since the listing
                    continue


@dataclass
class DatabaseCPU:
    """Measures, between `begin` and `end`, the PostgreSQL CPU spent for the process `pid`."""

    observer: asyncpg.Connection  # a connection of the bench's own, for pg_stat_activity (its backend is not counted)
    database_url: str
    pid: int
    postgres_port: int
    postmaster: int
    start: dict[int, float] = field(default_factory=dict)
    workers: ParallelWorkers | None = None

    @classmethod
    async def of(cls, observer: asyncpg.Connection, database_url: str, pid: int, postgres_port: int) -> DatabaseCPU:
        postmaster = proc.parent(await observer.fetchval("SELECT pg_backend_pid()"))
        return cls(observer, database_url, pid, postgres_port, postmaster)

    async def begin(self) -> None:
        self.workers = ParallelWorkers(self.postmaster, self.database_url)
        self.workers.start()
        self.start = await self._backend_cpu()

    async def end(self) -> float:
        """The CPU seconds used since `begin` (none where the process held no connection, as for `{ __typename }`
        once PostGraphile's pool has closed its idle ones)."""
        workers = self.workers
        assert workers is not None, "begin first"
        now = await self._backend_cpu()
        self.close()
        # A backend the pool opened meanwhile counts from its start; one it closed meanwhile is lost (the pools
        # are warm and full by `begin`).
        backends = sum(cpu - self.start.get(pid, 0.0) for pid, cpu in now.items())
        return backends + workers.used(set(now) | set(self.start))

    def close(self) -> None:
        """Stop sampling parallel workers (`end` does; call it too where a measurement is abandoned)."""
        workers, self.workers = self.workers, None
        if workers is not None:
            workers.stop()

    async def _backend_cpu(self) -> dict[int, float]:
        ports = proc.tcp_ports_to(self.pid, self.postgres_port)
        rows = await self.observer.fetch(
            "SELECT pid FROM pg_stat_activity WHERE backend_type = 'client backend' AND client_port = ANY($1::int[])",
            list(ports),
        )
        cpu = {}
        for row in rows:
            try:
                cpu[row["pid"]] = proc.cpu_seconds(row["pid"])
            except ProcessLookupError:
                continue
        return cpu
