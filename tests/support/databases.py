"""Scratch databases on a PostgreSQL server: created and migrated for a test session or a bench, then dropped."""

from __future__ import annotations

import uuid

import asyncpg

from tuneyard.core.migrations import migrate


def with_database(url: str, name: str) -> str:
    if "?" in url:
        base, query = url.split("?", 1)
        return f"{base.rsplit('/', 1)[0]}/{name}?{query}"
    return f"{url.rsplit('/', 1)[0]}/{name}"


async def create_database(admin_url: str) -> str:
    name = f"tuneyard_test_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(admin_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    url = with_database(admin_url, name)
    connection = await asyncpg.connect(url)
    try:
        await migrate(connection)
    finally:
        await connection.close()
    return url


async def drop_database(admin_url: str, url: str) -> None:
    name = url.split("?")[0].rsplit("/", 1)[1]
    admin = await asyncpg.connect(admin_url)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()
