"""Migrations apply once, in order; a second run is a no-op."""

from __future__ import annotations

import asyncpg

from tuneyard.core.migrations import available, migrate


async def test_second_run_is_a_noop(database_url: str) -> None:
    connection = await asyncpg.connect(database_url)
    try:
        assert await migrate(connection) == []
        applied = [r["version"] for r in await connection.fetch("SELECT version FROM schema_migrations ORDER BY 1")]
        assert applied == [version for version, _ in available()]
        assert applied == sorted(applied)
    finally:
        await connection.close()


async def test_quality_score_check_holds_in_the_database(database_url: str) -> None:
    connection = await asyncpg.connect(database_url)
    try:
        async with connection.transaction():
            await connection.execute(
                "INSERT INTO examples (execution_id, user_request, quality_score) VALUES ('m1', 'x', 0.85)"
            )
            assert await connection.fetchval("SELECT quality_score FROM examples WHERE execution_id = 'm1'") == 0.85
            try:
                async with connection.transaction():
                    await connection.execute(
                        "INSERT INTO examples (execution_id, user_request, quality_score) VALUES ('m2', 'x', 1.2)"
                    )
                raise AssertionError("a score above 1 must be refused")
            except asyncpg.CheckViolationError:
                pass
            raise asyncpg.exceptions.PostgresError("roll back")
    except asyncpg.exceptions.PostgresError as error:
        assert str(error) == "roll back"
    finally:
        await connection.close()
