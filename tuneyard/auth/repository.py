"""API tokens, stored as SHA-256 digests."""

from __future__ import annotations

from typing import Any

from tuneyard.auth.models import ApiToken
from tuneyard.core.db import Connection, Executor
from tuneyard.core.principal import Principal, Role

# Every column but the digest: nothing read here can give a token's secret away.
COLUMNS = "id, name, role, created_at, last_used_at, revoked_at"


def _token(row: Any) -> ApiToken:
    return ApiToken(
        id=row["id"], name=row["name"], role=Role[row["role"]], created_at=row["created_at"],
        last_used_at=row["last_used_at"], revoked_at=row["revoked_at"],
    )  # fmt: skip


async def insert(conn: Executor, name: str, role: Role, digest: bytes) -> ApiToken:
    row = await conn.fetchrow(
        f"INSERT INTO api_tokens (name, role, token_hash) VALUES ($1, $2, $3) RETURNING {COLUMNS}",
        name, role.name, digest,
    )  # fmt: skip
    return _token(row)


async def find_active(conn: Executor, digest: bytes, touch_after: float) -> Principal | None:
    """The unrevoked token with this digest, its last_used_at set to now unless it was set less than `touch_after`
    seconds ago (so servers write it at most about once per that time, however many requests they serve)."""
    # One round trip. The age is tested on the row being updated, so that concurrent misses on one token wait for
    # the first writer and then find nothing left to write.
    row = await conn.fetchrow(
        """
        WITH found AS (SELECT id, name, role FROM api_tokens WHERE token_hash = $1 AND revoked_at IS NULL),
        touched AS (
            UPDATE api_tokens t SET last_used_at = now() FROM found
            WHERE t.id = found.id AND t.revoked_at IS NULL
              AND (t.last_used_at IS NULL OR t.last_used_at <= now() - make_interval(secs => $2))
            RETURNING t.id
        )
        SELECT id, name, role FROM found
        """,
        digest, touch_after,
    )  # fmt: skip
    return None if row is None else Principal(row["id"], row["name"], Role[row["role"]])


async def count_active(conn: Executor) -> int:
    count: int = await conn.fetchval("SELECT count(*) FROM api_tokens WHERE revoked_at IS NULL")
    return count


async def listed(conn: Executor) -> list[ApiToken]:
    """Every token, revoked ones too, newest first."""
    rows = await conn.fetch(f"SELECT {COLUMNS} FROM api_tokens ORDER BY created_at DESC, id DESC")
    return [_token(row) for row in rows]


async def lock_active_admins(conn: Connection) -> list[int]:
    """The ids of the unrevoked ADMIN tokens, locked (in id order) until the transaction ends."""
    rows = await conn.fetch(
        "SELECT id FROM api_tokens WHERE role = 'ADMIN' AND revoked_at IS NULL ORDER BY id FOR UPDATE"
    )
    return [row["id"] for row in rows]


async def get_for_update(conn: Connection, token_id: int) -> ApiToken | None:
    row = await conn.fetchrow(f"SELECT {COLUMNS} FROM api_tokens WHERE id = $1 FOR UPDATE", token_id)
    return None if row is None else _token(row)


async def revoke(conn: Connection, token_id: int) -> ApiToken:
    """Revoke the token; one already revoked keeps its first revoked_at."""
    row = await conn.fetchrow(
        f"UPDATE api_tokens SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1 RETURNING {COLUMNS}", token_id
    )
    return _token(row)
