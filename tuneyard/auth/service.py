"""Bearer tokens: minting, listing, revoking, checking, and the role each operation needs."""

from __future__ import annotations

import hashlib
import secrets
import time

import asyncpg

from tuneyard.auth import repository as tokens
from tuneyard.auth.models import ApiToken, CreatedToken
from tuneyard.core.db import Connection, transact
from tuneyard.core.errors import ConflictError, NotFoundError, UnauthenticatedError, ValidationError
from tuneyard.core.ids import parse_id
from tuneyard.core.principal import Principal, Role

TOKEN_PREFIX = "ty_"
NAME_MAX_CHARS = 100


def _digest(token: str) -> bytes:
    # Tokens carry 256 random bits, so a plain SHA-256 is enough; a slow hash would only slow every request.
    return hashlib.sha256(token.encode()).digest()


def _checked_name(name: str) -> str:
    name = name.strip()
    if not 1 <= len(name) <= NAME_MAX_CHARS:
        raise ValidationError(
            f"name: a token's name must be 1 to {NAME_MAX_CHARS} characters (without surrounding spaces); "
            f"got {len(name)}"
        )
    if not name.isprintable():
        raise ValidationError("name: a token's name must not contain control characters such as newlines or tabs")
    return name


async def mint(pool: asyncpg.Pool, role: Role, name: str) -> CreatedToken:
    """Mint a token; only its digest is stored, so this is the one time its secret can be shown."""
    name = _checked_name(name)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    created = await transact(pool, lambda conn: tokens.insert(conn, name, role, _digest(token)), affected=lambda _: 1)
    return CreatedToken(token, created)


async def create_token(pool: asyncpg.Pool, role: Role, name: str) -> str:
    """Mint a token and return its secret, the one time it can be shown."""
    return (await mint(pool, role, name)).token


async def has_tokens(pool: asyncpg.Pool) -> bool:
    return await tokens.count_active(pool) > 0


async def listed(pool: asyncpg.Pool | asyncpg.Connection) -> list[ApiToken]:
    """Every token, revoked ones too, newest first; never a secret or a digest."""
    return await tokens.listed(pool)


async def revoke(pool: asyncpg.Pool, token_id: object, by: Principal | None) -> ApiToken:
    """Revoke a token (it stops authenticating within each server's TUNEYARD_TOKEN_CACHE_SECONDS).

    Revoking a revoked token changes nothing and returns it with its first revokedAt. With `by` (a request over the
    API) the last unrevoked ADMIN token is never revoked: CONFLICT, so that nobody locks every admin out. Without it
    (the CLI, which can always mint a new ADMIN token) nothing is refused.
    """
    found_id = parse_id(token_id, "token")

    async def work(conn: Connection) -> tuple[ApiToken, int]:
        # Every revoke locks the unrevoked ADMIN tokens first, in one order: two admins revoking each other's tokens
        # at once cannot both pass the check below (and cannot deadlock).
        admins = await tokens.lock_active_admins(conn)
        found = await tokens.get_for_update(conn, found_id)
        if found is None:
            raise NotFoundError(f"no token has the id {found_id}")
        if found.revoked_at is not None:
            return found, 0
        if by is not None and admins == [found.id]:
            whose = "the one this request uses" if by.token_id == found.id else f'"{found.name}"'
            raise ConflictError(
                f"token {found.id} ({whose}) is the last unrevoked ADMIN token: revoking it would leave nobody able to "
                "manage tokens. Create another ADMIN token first (createToken, or `tuneyard token create --role "
                "ADMIN`), then revoke this one with it."
            )
        return await tokens.revoke(conn, found.id), 1

    revoked, _ = await transact(pool, work, affected=lambda done: done[1])
    return revoked


class Authenticator:
    """Resolves bearer tokens to principals, remembering answers briefly to spare the database.

    A cache miss asks the database and, at most once per `cache_seconds` per token, records when the token was last
    used: requests served from the cache write nothing.
    """

    def __init__(self, pool: asyncpg.Pool, cache_seconds: float) -> None:
        self._pool = pool
        self._cache_seconds = cache_seconds
        self._cache: dict[bytes, tuple[float, Principal]] = {}

    async def authenticate(self, authorization: str | None) -> Principal:
        if not authorization:
            raise UnauthenticatedError("missing bearer token: send 'Authorization: Bearer <token>'")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise UnauthenticatedError("malformed Authorization header: expected 'Bearer <token>'")
        digest = _digest(token.strip())
        now = time.monotonic()
        cached = self._cache.get(digest)
        if cached is not None and cached[0] > now:
            return cached[1]
        principal = await tokens.find_active(self._pool, digest, self._cache_seconds)
        if principal is None:
            raise UnauthenticatedError("unknown or revoked token")
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[digest] = (now + self._cache_seconds, principal)
        return principal
