"""A server and database of their own for the token tests: they revoke ADMIN tokens, which the session's shared
server must keep, and they check revocation against a short token cache."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.support import GraphQLClient, Server, tuneyard
from tests.support.databases import create_database, drop_database

CACHE_SECONDS = 0.5


@dataclass
class Auth:
    server: Server
    env: dict[str, str]
    database_url: str
    admin: GraphQLClient  # a test that revokes this token sets another ADMIN client and its id here
    curator: GraphQLClient
    reader: GraphQLClient
    admin_id: str = ""

    def client(self, token: str | None) -> GraphQLClient:
        return GraphQLClient(self.server.url, token)


@pytest.fixture(scope="package")
def auth(backing: tuple[str, str], env: dict[str, str]) -> Iterator[Auth]:
    url = asyncio.run(create_database(backing[0]))
    own = {
        **env, "TUNEYARD_DATABASE_URL": url, "TUNEYARD_TOKEN_CACHE_SECONDS": str(CACHE_SECONDS),
        "TUNEYARD_SERVE_WORKERS": "0",  # no jobs here
    }  # fmt: skip
    server = Server(own)
    server.start()
    try:
        made = {
            role: tuneyard("token", "create", "--role", role, "--name", f"auth {role}", env=own).strip()
            for role in ("ADMIN", "CURATOR", "READER")
        }
        admin, curator, reader = (GraphQLClient(server.url, made[r]) for r in ("ADMIN", "CURATOR", "READER"))
        found = Auth(server, own, url, admin, curator, reader)
        listed = found.admin.data("{ tokens { id name } }")["tokens"]
        found.admin_id = next(t["id"] for t in listed if t["name"] == "auth ADMIN")
        yield found
    finally:
        server.stop()
        asyncio.run(drop_database(backing[0], url))
