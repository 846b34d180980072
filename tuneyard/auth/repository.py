"""API tokens, stored as SHA-256 digests."""

from __future__ import annotations

import asyncpg

from tuneyard.core.principal import Principal, Role


async def insert(conn: asyncpg.Pool | asyncpg.Connection, name: str, role: Role, digest: bytes) -> int:
    token_id: int = await conn.fetchval(
        "INSERT INTO api_tokens (name, role, token_hash) VALUES ($1, $2, $3) RETURNING id",
        name, role.name, digest,
    )  # fmt: skip
    return token_id


async def find_active(conn: asyncpg.Pool | asyncpg.Connection, digest: bytes) -> Principal | None:
    row = await conn.fetchrow(
        "SELECT id, name, role FROM api_tokens WHERE token_hash = $1 AND revoked_at IS NULL", digest
    )
    return None if row is None else Principal(row["id"], row["name"], Role[row["role"]])


async def count_active(conn: asyncpg.Pool | asyncpg.Connection) -> int:
    count: int = await conn.fetchval("SELECT count(*) FROM api_tokens WHERE revoked_at IS NULL")
    return count
