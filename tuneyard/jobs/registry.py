"""The job types a worker can run: each declared JobType bound to its work by a domain's tasks module.

A type is declared once, where its input and result models live (a domain's service or models), so that
servers can start it; its tasks module binds the work with `job_task(TYPE)(work)`, and only workers import
tasks modules.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from typing import Any

from tuneyard.jobs.models import InputT, JobType, ResultT
from tuneyard.jobs.run import JobRun

Work = Callable[[JobRun[InputT, ResultT]], Awaitable[ResultT]]


@dataclass(frozen=True)
class Task:
    """A job type and the work that runs it."""

    type: JobType[Any, Any]
    work: Work[Any, Any]


_tasks: dict[str, Task] = {}


def job_task(job_type: JobType[InputT, ResultT]) -> Callable[[Work[InputT, ResultT]], Work[InputT, ResultT]]:
    """Bind `work(run)` to the job type: workers serving its queue run it for every job of that type."""

    def register(work: Work[InputT, ResultT]) -> Work[InputT, ResultT]:
        known = _tasks.get(job_type.actor)
        if known is not None and (known.type is not job_type or known.work is not work):
            raise ValueError(f"job actor {job_type.actor!r} is registered twice")
        _tasks[job_type.actor] = Task(job_type, work)
        return work

    return register


def tasks(queues: Collection[str] | None = None) -> list[Task]:
    """The registered tasks (of the given queues only, unless None), by actor name."""
    return [t for _, t in sorted(_tasks.items()) if queues is None or t.type.queue in queues]


def queues() -> list[str]:
    """Every queue some registered task is on."""
    return sorted({t.type.queue for t in _tasks.values()})
