"""The audit entry of the mutation being served: who, which operation, its arguments summarised, how many rows.

`audited` wraps a mutation resolver and opens a scope (a context variable); `transact` writes the scope's entry with
the connection of the first transaction that commits while it is open, so an entry exists exactly when its change
was committed: a mutation that fails rolls its entry back with its change, a retried transaction writes it once. The
one INSERT into audit_log lives here because core writes it for every domain (auth reads it: tuneyard/auth).
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import functools
import re
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, TypeVar, overload

import asyncpg
import orjson
import strawberry
from asyncpg.pool import PoolConnectionProxy

# core.db's Connection, spelled out: db imports this module.
Connection = asyncpg.Connection | PoolConnectionProxy

MAX_TEXT = 200  # characters of a string argument kept
MAX_ITEMS = 5  # a longer list keeps its first FIRST_ITEMS items and its count
FIRST_ITEMS = 3
MAX_JSON_BYTES = 512  # a JSON object longer than this once summarised keeps only its size
MAX_DEPTH = 6
REDACTED = "[redacted]"
# Argument keys whose values are never stored, wherever they appear (a provider's settings in `extra`, say).
_SECRET = re.compile(r"secret|password|passwd|token|api_?key|credential|authorization|private_?key", re.IGNORECASE)

R = TypeVar("R")
Resolver = Callable[..., Awaitable[R]]
Summary = dict[str, Any]


@dataclass(slots=True)
class AuditScope:
    """The entry a mutation will write: set by `audited`, written once by `transact`."""

    token_name: str
    operation: str
    summary: Summary
    entry_id: int | None = None  # set once a committed transaction holds the entry
    open: bool = True  # closed when the mutation returns: a task it left behind writes nothing

    @property
    def pending(self) -> bool:
        return self.open and self.entry_id is None


_SCOPE: ContextVar[AuditScope | None] = ContextVar("tuneyard_audit_scope", default=None)


def pending() -> AuditScope | None:
    """The scope of the mutation being served, if its entry is still to be written."""
    scope = _SCOPE.get()
    return scope if scope is not None and scope.pending else None


async def insert(conn: Connection, scope: AuditScope, affected_count: int | None) -> int:
    """Write the scope's entry on `conn` (inside the transaction of its change); the entry's id."""
    entry_id: int = await conn.fetchval(
        "INSERT INTO audit_log (token_name, operation, summary, affected_count) VALUES ($1, $2, $3, $4) RETURNING id",
        scope.token_name, scope.operation, scope.summary, affected_count,
    )  # fmt: skip
    return entry_id


async def withdraw(conn: Connection) -> None:
    """Delete the entry the current mutation wrote, in the transaction that takes its change back (a job whose
    message Redis refused is deleted again: the mutation fails, and its entry goes with the job)."""
    scope = _SCOPE.get()
    if scope is not None and scope.open and scope.entry_id is not None:
        await conn.execute("DELETE FROM audit_log WHERE id = $1", scope.entry_id)
        scope.entry_id = None


def _camel(name: str) -> str:
    head, *rest = name.rstrip("_").split("_")
    return head + "".join(part.title() for part in rest)


def _fields(value: Any) -> dict[str, Any]:
    """A dataclass (a Strawberry input, a domain object) as its set fields, named as GraphQL names them."""
    found = {}
    for field in dataclasses.fields(value):
        item = getattr(value, field.name, None)
        if item is not None and item is not strawberry.UNSET:
            found[_camel(field.name)] = item
    return found


def summarise(value: Any, depth: int = 0) -> Any:
    """A short, JSON-ready form of an argument: long strings cut, long lists as their first items and count, big
    objects as their size, secrets never."""
    if isinstance(value, enum.Enum):  # before int: Role is an IntEnum
        return value.name
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return value if len(value) <= MAX_TEXT else f"{value[:MAX_TEXT]}... ({len(value):,} characters)"
    if isinstance(value, datetime | date):
        return value.isoformat()
    if depth >= MAX_DEPTH:
        return "..."
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = _fields(value)
    if isinstance(value, Mapping):
        short = {str(k): REDACTED if _SECRET.search(str(k)) else summarise(v, depth + 1) for k, v in value.items()}
        size = len(orjson.dumps(short, default=str))
        return short if size <= MAX_JSON_BYTES else {"jsonBytes": len(orjson.dumps(value, default=str))}
    if isinstance(value, list | tuple):
        if len(value) > MAX_ITEMS:
            return {"count": len(value), "first": [summarise(v, depth + 1) for v in value[:FIRST_ITEMS]]}
        return [summarise(v, depth + 1) for v in value]
    return summarise(str(value), depth)


def summarise_arguments(arguments: Mapping[str, Any]) -> Summary:
    """Every argument given (not null), by its GraphQL name, summarised."""
    return {
        _camel(name): REDACTED if _SECRET.search(name) else summarise(value)
        for name, value in arguments.items()
        if value is not None and value is not strawberry.UNSET
    }


@contextlib.contextmanager
def opened(token_name: str, operation: str, summary: Summary) -> Iterator[AuditScope]:
    """The scope of one mutation: the first transaction `transact` commits inside it writes its entry."""
    scope = AuditScope(token_name, operation, summary)
    reset = _SCOPE.set(scope)
    try:
        yield scope
    finally:
        scope.open = False
        _SCOPE.reset(reset)


@overload
def audited(resolver: Resolver[R], /) -> Resolver[R]: ...


@overload
def audited(*, summary: Callable[[Mapping[str, Any]], Summary]) -> Callable[[Resolver[R]], Resolver[R]]: ...


def audited(
    resolver: Resolver[R] | None = None, /, *, summary: Callable[[Mapping[str, Any]], Summary] = summarise_arguments
) -> Resolver[R] | Callable[[Resolver[R]], Resolver[R]]:
    """Audit a mutation resolver: its entry (the caller's token name, the field name, `summary` of its arguments) is
    written with its change; one that changed nothing through `transact` gets its entry alone, after it returns."""

    def wrap(function: Resolver[R]) -> Resolver[R]:
        @functools.wraps(function)
        async def audited_resolver(*args: Any, **kwargs: Any) -> R:
            info = kwargs["info"]
            principal = info.context.principal
            if principal is None:  # refused by the resolver's own role check
                return await function(*args, **kwargs)
            arguments = {name: value for name, value in kwargs.items() if name != "info"}
            with opened(principal.name, info.field_name, summary(arguments)) as scope:
                result = await function(*args, **kwargs)
                if scope.pending:
                    async with info.context.pool.acquire() as conn, conn.transaction():
                        scope.entry_id = await insert(conn, scope, 0)
                return result

        audited_resolver.audited = True  # type: ignore[attr-defined]  # tests check every mutation has it
        return audited_resolver

    return wrap if resolver is None else wrap(resolver)
