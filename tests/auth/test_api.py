"""Tokens through the API: list, create, revoke (ADMIN only); the secret shown once; lastUsedAt; revocation within
the token cache time; the last unrevoked ADMIN token kept."""

from __future__ import annotations

import hashlib
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

import asyncpg
import orjson
import pytest

from tests.auth.conftest import CACHE_SECONDS, Auth
from tests.support import GraphQLClient
from tuneyard.auth.service import Authenticator

FIELDS = "id name role createdAt lastUsedAt revokedAt"
TOKENS = f"{{ tokens {{ {FIELDS} }} }}"
CREATE = f"""mutation($name: String!, $role: Role!) {{
  createToken(name: $name, role: $role) {{ token apiToken {{ {FIELDS} }} }} }}"""
REVOKE = f"mutation($id: ID!) {{ revokeToken(id: $id) {{ {FIELDS} }} }}"
WHO = "{ __typename }"


def create(auth: Auth, name: str, role: str = "READER") -> tuple[str, dict[str, Any]]:
    created = auth.admin.data(CREATE, {"name": name, "role": role})["createToken"]
    return created["token"], created["apiToken"]


def listed(auth: Auth, token_id: str) -> dict[str, Any]:
    return next(t for t in auth.admin.data(TOKENS)["tokens"] if t["id"] == token_id)


def works(auth: Auth, token: str) -> bool:
    response = auth.client(token).post(WHO)
    assert response.status_code in (200, 401), response.text
    return response.status_code == 200


@pytest.mark.parametrize("role", ["READER", "CURATOR"])
def test_only_admins_manage_tokens(auth: Auth, role: str) -> None:
    client = auth.reader if role == "READER" else auth.curator
    _, target = create(auth, f"target for {role}")
    for query, variables in ((TOKENS, None), (CREATE, {"name": "x", "role": "ADMIN"}), (REVOKE, {"id": target["id"]})):
        error = client.error(query, variables)
        assert error["extensions"]["code"] == "FORBIDDEN", error
        assert "ADMIN" in error["message"] and role in error["message"]
    assert listed(auth, target["id"])["revokedAt"] is None
    assert auth.client(None).post(TOKENS).status_code == 401


async def test_the_secret_is_shown_once(auth: Auth) -> None:
    token, api_token = create(auth, "  ci bot  ", "CURATOR")
    assert token.startswith("ty_") and len(token) > 40
    assert api_token["name"] == "ci bot" and api_token["role"] == "CURATOR"
    assert api_token["lastUsedAt"] is None and api_token["revokedAt"] is None
    datetime.fromisoformat(api_token["createdAt"])
    assert works(auth, token)

    # Never again: not in the list, nor anywhere in the API's types.
    everything = auth.admin.execute(TOKENS)
    assert token not in orjson.dumps(everything).decode()
    assert token[3:] not in orjson.dumps(everything).decode()
    fields = auth.admin.data('{ __type(name: "ApiToken") { fields { name } } }')["__type"]["fields"]
    assert {f["name"] for f in fields} == {"id", "name", "role", "createdAt", "lastUsedAt", "revokedAt"}

    # Nor in the database: only its SHA-256.
    connection = await asyncpg.connect(auth.database_url)
    try:
        row = await connection.fetchrow(
            "SELECT *, t::text AS whole FROM api_tokens t WHERE id = $1", int(api_token["id"])
        )
    finally:
        await connection.close()
    assert row is not None and row["token_hash"] == hashlib.sha256(token.encode()).digest()
    assert token not in row["whole"] and token[3:] not in row["whole"]


def test_tokens_newest_first_revoked_ones_too(auth: Auth) -> None:
    _, older = create(auth, "older")
    _, newer = create(auth, "newer", "ADMIN")
    auth.admin.data(REVOKE, {"id": older["id"]})
    found = auth.admin.data(TOKENS)["tokens"]
    ids = [t["id"] for t in found]
    assert ids.index(newer["id"]) < ids.index(older["id"])
    created = [datetime.fromisoformat(t["createdAt"]) for t in found]
    assert created == sorted(created, reverse=True)
    assert found[0] == newer
    assert next(t for t in found if t["id"] == older["id"])["revokedAt"] is not None
    auth.admin.data(REVOKE, {"id": newer["id"]})


@pytest.mark.parametrize(
    ("name", "says"),
    [("", "1 to 100"), ("   ", "1 to 100"), ("x" * 101, "1 to 100"), ("two\nlines", "control characters")],
)
def test_a_bad_name_is_refused(auth: Auth, name: str, says: str) -> None:
    before = len(auth.admin.data(TOKENS)["tokens"])
    error = auth.admin.error(CREATE, {"name": name, "role": "READER"})
    assert error["extensions"]["code"] == "BAD_USER_INPUT" and error["message"].startswith("name:"), error
    assert says in error["message"]
    assert len(auth.admin.data(TOKENS)["tokens"]) == before


def test_a_name_of_100_characters_and_an_unknown_role(auth: Auth) -> None:
    _, made = create(auth, "é" * 100)
    assert made["name"] == "é" * 100
    error = auth.admin.error(CREATE, {"name": "x", "role": "OWNER"})
    assert "OWNER" in error["message"]


def test_last_used_at_is_set_when_the_token_authenticates(auth: Auth) -> None:
    token, made = create(auth, "used")
    before_use = listed(auth, made["id"])
    assert before_use["lastUsedAt"] is None
    assert works(auth, token)
    used = datetime.fromisoformat(listed(auth, made["id"])["lastUsedAt"])
    assert used >= datetime.fromisoformat(made["createdAt"])
    # Used again after the cache time: a later time.
    time.sleep(CACHE_SECONDS + 0.2)
    assert works(auth, token)
    assert datetime.fromisoformat(listed(auth, made["id"])["lastUsedAt"]) > used


async def test_last_used_at_is_written_at_most_once_per_cache_time(auth: Auth) -> None:
    token, made = create(auth, "quiet")
    token_id = int(made["id"])
    pool = await asyncpg.create_pool(auth.database_url, min_size=1, max_size=2)
    assert pool is not None
    try:

        async def last_used() -> datetime | None:
            value: datetime | None = await pool.fetchval("SELECT last_used_at FROM api_tokens WHERE id = $1", token_id)
            return value

        first_server, second_server = Authenticator(pool, 60), Authenticator(pool, 60)
        principal = await first_server.authenticate(f"Bearer {token}")
        assert principal.token_id == token_id and principal.name == "quiet"
        first = await last_used()
        assert first is not None
        # Answers from the cache write nothing.
        await pool.execute("UPDATE api_tokens SET last_used_at = NULL WHERE id = $1", token_id)
        for _ in range(20):
            await first_server.authenticate(f"Bearer {token}")
        assert await last_used() is None
        # Another server's cache miss within the cache time leaves a recent lastUsedAt alone.
        await pool.execute("UPDATE api_tokens SET last_used_at = $2 WHERE id = $1", token_id, first)
        await second_server.authenticate(f"Bearer {token}")
        assert await last_used() == first
        # With no cache, every check is a miss and writes.
        await Authenticator(pool, 0).authenticate(f"Bearer {token}")
        later = await last_used()
        assert later is not None and later > first
    finally:
        await pool.close()


def test_a_revoked_token_stops_working_within_the_cache_time(auth: Auth) -> None:
    token, made = create(auth, "to revoke", "CURATOR")
    assert works(auth, token)  # now in the server's cache
    revoked = auth.admin.data(REVOKE, {"id": made["id"]})["revokeToken"]
    revoked_at = revoked.pop("revokedAt")
    assert revoked_at is not None
    assert {**made, "lastUsedAt": None} == {**revoked, "lastUsedAt": None, "revokedAt": None}
    time.sleep(CACHE_SECONDS + 0.1)
    response = auth.client(token).post(WHO)
    assert response.status_code == 401 and response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    # Revoking twice is no error and keeps the first time.
    again = auth.admin.data(REVOKE, {"id": made["id"]})["revokeToken"]
    assert again["revokedAt"] == revoked_at
    assert listed(auth, made["id"])["revokedAt"] == revoked_at


def test_revoking_an_unknown_or_malformed_id(auth: Auth) -> None:
    missing = auth.admin.error(REVOKE, {"id": "999999999"})
    assert missing["extensions"]["code"] == "NOT_FOUND" and "999999999" in missing["message"]
    malformed = auth.admin.error(REVOKE, {"id": "abc"})
    assert malformed["extensions"]["code"] == "BAD_USER_INPUT"


def active_admins(client: GraphQLClient) -> list[str]:
    return [t["id"] for t in client.data(TOKENS)["tokens"] if t["role"] == "ADMIN" and t["revokedAt"] is None]


def only_admin(auth: Auth) -> None:
    """Revoke every unrevoked ADMIN token but the one of auth.admin."""
    for other in active_admins(auth.admin):
        if other != auth.admin_id:
            auth.admin.data(REVOKE, {"id": other})
    assert active_admins(auth.admin) == [auth.admin_id]


def test_the_last_admin_token_cannot_revoke_itself(auth: Auth) -> None:
    only_admin(auth)
    refused = auth.admin.error(REVOKE, {"id": auth.admin_id})
    assert refused["extensions"]["code"] == "CONFLICT", refused
    assert "last unrevoked ADMIN token" in refused["message"] and "this request uses" in refused["message"]
    assert "createToken" in refused["message"]
    time.sleep(CACHE_SECONDS + 0.1)
    assert listed(auth, auth.admin_id)["revokedAt"] is None
    assert auth.admin.data(TOKENS)["tokens"]  # its token still works, after the cache time too

    # With a second ADMIN token, either may go; then the other is the last.
    second, made = create(auth, "second admin", "ADMIN")
    second_admin = auth.client(second)
    assert second_admin.data(REVOKE, {"id": auth.admin_id})["revokeToken"]["revokedAt"] is not None
    auth.admin, auth.admin_id = second_admin, made["id"]
    refused = second_admin.error(REVOKE, {"id": made["id"]})
    assert refused["extensions"]["code"] == "CONFLICT"


def revoke_answer(client: GraphQLClient, token_id: str) -> int:
    """200 (revoked), 409 (CONFLICT) or 401 (the caller's own token was revoked first and left the cache)."""
    response = client.post(REVOKE, {"id": token_id})
    if response.status_code == 401:
        return 401
    body = response.json()
    if "errors" not in body:
        return 200
    assert body["errors"][0]["extensions"]["code"] == "CONFLICT", body
    return 409


def test_two_admins_revoking_each_other_at_once_leave_one(auth: Auth) -> None:
    only_admin(auth)
    for attempt in range(3):
        token, made = create(auth, f"rival {attempt}", "ADMIN")
        rival = auth.client(token)
        assert works(auth, token)  # both tokens are now in the server's cache
        with ThreadPoolExecutor(2) as threads:
            first = threads.submit(revoke_answer, auth.admin, made["id"])
            second = threads.submit(revoke_answer, rival, auth.admin_id)
            outcomes = [first.result(), second.result()]
        assert sorted(outcomes) in ([200, 401], [200, 409]), outcomes
        if outcomes[1] == 200:
            auth.admin, auth.admin_id = rival, made["id"]
        assert active_admins(auth.admin) == [auth.admin_id]
