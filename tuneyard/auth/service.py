"""Bearer tokens: minting, checking, and the role each operation needs."""

from __future__ import annotations

import hashlib
import secrets
import time

import asyncpg

from tuneyard.auth import repository as tokens
from tuneyard.core.errors import UnauthenticatedError, ValidationError
from tuneyard.core.principal import Principal, Role

TOKEN_PREFIX = "ty_"


def _digest(token: str) -> bytes:
    # Tokens carry 256 random bits, so a plain SHA-256 is enough; a slow hash would only slow every request.
    return hashlib.sha256(token.encode()).digest()


async def create_token(pool: asyncpg.Pool | asyncpg.Connection, role: Role, name: str) -> str:
    """Mint a token; only its digest is stored, so this is the one time it can be shown."""
    if not name.strip():
        raise ValidationError("token name must not be empty")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    await tokens.insert(pool, name.strip(), role, _digest(token))
    return token


async def has_tokens(pool: asyncpg.Pool) -> bool:
    return await tokens.count_active(pool) > 0


class Authenticator:
    """Resolves bearer tokens to principals, remembering answers briefly to spare the database."""

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
        principal = await tokens.find_active(self._pool, digest)
        if principal is None:
            raise UnauthenticatedError("unknown or revoked token")
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[digest] = (now + self._cache_seconds, principal)
        return principal
