"""SQL for reading the audit log (core/audit.py writes it): newest first, keyset on id."""

from __future__ import annotations

from typing import Any

from tuneyard.auth.models import AuditEntry
from tuneyard.core.db import Executor

COLUMNS = "id, at, token_name, operation, summary, affected_count"


def _entry(row: Any) -> AuditEntry:
    return AuditEntry(**dict(row.items()))


def _condition(operation: str | None, after_id: int | None) -> tuple[str, list[Any]]:
    conditions: list[str] = ["TRUE"]
    params: list[Any] = []
    if operation is not None:
        params.append(operation)
        conditions.append(f"operation = ${len(params)}")
    if after_id is not None:
        params.append(after_id)
        conditions.append(f"id < ${len(params)}")
    return " AND ".join(conditions), params


async def page(conn: Executor, operation: str | None, after_id: int | None, limit: int) -> list[AuditEntry]:
    """Up to `limit` entries (of one operation, when given) older than the entry `after_id`, newest first."""
    condition, params = _condition(operation, after_id)
    rows = await conn.fetch(
        f"SELECT {COLUMNS} FROM audit_log WHERE {condition} ORDER BY id DESC LIMIT ${len(params) + 1}", *params, limit
    )
    return [_entry(r) for r in rows]


async def count(conn: Executor, operation: str | None) -> int:
    condition, params = _condition(operation, None)
    total: int = await conn.fetchval(f"SELECT count(*) FROM audit_log WHERE {condition}", *params)
    return total
