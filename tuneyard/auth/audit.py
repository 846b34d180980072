"""Reading the audit log: every mutation's entry (who, what, how many rows), newest first, keyset-paginated."""

from __future__ import annotations

from tuneyard.auth import audit_repository as repo
from tuneyard.auth.models import AuditEntry
from tuneyard.core.db import Pool
from tuneyard.core.errors import ValidationError
from tuneyard.core.page import Page, check_page_size, decode_id_cursor, encode_id_cursor

_CURSOR = "audit entry"
MAX_OPERATION = 100


def _checked(operation: str | None) -> str | None:
    if operation is not None and not 1 <= len(operation) <= MAX_OPERATION:
        raise ValidationError(f"operation: a mutation's name, 1 to {MAX_OPERATION} characters (e.g. recordExamples)")
    return operation


async def page(pool: Pool, operation: str | None, first: int, after: str | None) -> Page[AuditEntry]:
    """One page of entries, newest first; only those of `operation` (a mutation's field name) when given."""
    check_page_size(first)
    after_id = None if after is None else decode_id_cursor(_CURSOR, after)
    found = await repo.page(pool, _checked(operation), after_id, first + 1)
    return Page.of(found, first, lambda entry: encode_id_cursor(_CURSOR, entry.id))


async def count(pool: Pool, operation: str | None) -> int:
    return await repo.count(pool, _checked(operation))
