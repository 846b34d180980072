"""Migrations apply once, in order; a second run is a no-op; replicas may run them at once, while older ones serve."""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from tests.support.databases import create_database, drop_database, with_database
from tuneyard.core.migrations import MigrationLockTimeout, available, migrate


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


# Migrations run while replicas of the release before serve: a migration only adds (expand); what it would drop,
# rename or retype goes in a later release once no replica uses it (contract), marked so:
#   -- contract: <why no running replica uses it any more>
# Files before FIRST_CHECKED predate the rule (0016 drops a table the release before it read).
FIRST_CHECKED = "0017"
MARKER = re.compile(r"--[ \t]*contract:[ \t]*\S")
RULES = [
    ("DROP", re.compile(r"\bDROP\b(?!\s+NOT\s+NULL\b)")),  # DROP NOT NULL only relaxes a rule: old writes still pass
    ("RENAME", re.compile(r"\bRENAME\b")),
    ("ALTER COLUMN ... TYPE", re.compile(r"\bALTER\s+(COLUMN\s+)?(\w+|\"[^\"]+\")\s+(SET\s+DATA\s+)?TYPE\b")),
    ("SET NOT NULL", re.compile(r"\bSET\s+NOT\s+NULL\b")),  # old replicas' inserts may leave it out
]
ADDED_COLUMN = re.compile(r"\bADD\s+COLUMN\b(.*?)(?=,\s*ADD\b|$)", re.DOTALL)


def statements(sql: str) -> list[str]:
    """The statements of a migration, split at `;` outside quotes, comments and $$ bodies (comments kept)."""
    found, start, i, quote = [], 0, 0, None
    while i < len(sql):
        if quote is not None:
            end = sql.find(quote, i)
            i = len(sql) if end < 0 else end + len(quote)
            quote = None
            continue
        dollar = re.match(r"\$\w*\$", sql[i:])
        if dollar:
            quote, i = dollar.group(), i + len(dollar.group())
        elif sql.startswith("--", i):
            quote, i = "\n", i + 2
        elif sql[i] in "'\"":
            quote, i = sql[i], i + 1
        elif sql[i] == ";":
            found.append(sql[start:i])
            start, i = i + 1, i + 1
        else:
            i += 1
    return [s for s in [*found, sql[start:]] if code_of(s).strip()]


def code_of(statement: str) -> str:
    """The statement without comments and string literals, upper-cased."""
    return re.sub(r"--[^\n]*|'(?:[^']|'')*'", " ", statement).upper()


def unsafe(sql: str) -> list[str]:
    """What old replicas may not survive in `sql`, in statements without a `-- contract: <why>` comment."""
    problems = []
    for statement in statements(sql):
        if MARKER.search(statement):
            continue
        code = code_of(statement)
        problems += [f"{name}: {' '.join(code.split())[:100]}" for name, rule in RULES if rule.search(code)]
        for added in ADDED_COLUMN.findall(code):
            if re.search(r"\bNOT\s+NULL\b", added) and not re.search(r"\bDEFAULT\b", added):
                problems.append(f"ADD COLUMN ... NOT NULL without a DEFAULT: {' '.join(added.split())[:100]}")
    return problems


def test_migrations_from_0017_on_only_expand() -> None:
    checked = [(version, sql) for version, sql in available() if version >= FIRST_CHECKED]
    assert checked and checked[0][0].startswith(FIRST_CHECKED)
    found = {version: problems for version, sql in checked if (problems := unsafe(sql))}
    assert not found, f"unsafe while old replicas serve (README: Deploying: replicas and workers): {found}"


def test_the_check_finds_what_would_break_old_replicas() -> None:
    shipped = dict(available())
    assert unsafe(shipped["0016_tag_operation_batches"]) == ["DROP: DROP TABLE TAG_OPERATION_CHANGES"]
    assert unsafe(shipped["0011_example_model_id"])[0].startswith("DROP: DROP VIEW EXAMPLE_ROWS")
    samples = {
        "ALTER TABLE jobs RENAME COLUMN queue TO lane;": "RENAME",
        "ALTER TABLE jobs ALTER COLUMN attempts TYPE bigint;": "ALTER COLUMN ... TYPE",
        "ALTER TABLE jobs ALTER attempts SET DATA TYPE bigint;": "ALTER COLUMN ... TYPE",
        "ALTER TABLE jobs ALTER COLUMN message SET NOT NULL;": "SET NOT NULL",
        "ALTER TABLE jobs ADD COLUMN lane text NOT NULL, ADD COLUMN n int DEFAULT 0;": "ADD COLUMN ... NOT NULL without a DEFAULT",
        "ALTER TABLE jobs DROP COLUMN queue;": "DROP",
        "CREATE FUNCTION f() RETURNS void LANGUAGE plpgsql AS $$ BEGIN DROP TABLE t; END $$;": "DROP",
    }
    for sql, rule in samples.items():
        assert [p.split(":")[0] for p in unsafe(sql)][:1] == [rule], (sql, unsafe(sql))
    allowed = [
        "ALTER TABLE jobs ADD COLUMN lane text NOT NULL DEFAULT 'main', ADD COLUMN n int;",
        "ALTER TABLE jobs ALTER COLUMN message DROP NOT NULL;",
        "-- old replicas drop nothing; we rename nothing\nCOMMENT ON TABLE jobs IS 'never DROP this';",
        "CREATE TABLE t (x int); -- contract: not a marker for the next statement\nSELECT 1;",
        "-- contract: tag_operation_changes unread since 0016 shipped (every replica reads batches)\nDROP TABLE t;",
        "ALTER TYPE job_kind ADD VALUE 'CURATION';",
    ]
    for sql in allowed:
        assert unsafe(sql) == [], (sql, unsafe(sql))
    assert unsafe("SELECT 1; -- contract: too late\nDROP TABLE t;") == [], "a marker above the statement counts"
    assert unsafe("-- contract:\nDROP TABLE t;") == ["DROP: DROP TABLE T"], "a marker needs its reason"


async def test_replicas_migrating_a_fresh_database_at_once_all_succeed(backing: tuple[str, str]) -> None:
    name = f"tuneyard_test_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(backing[0])
    await admin.execute(f'CREATE DATABASE "{name}"')
    connections = []
    try:
        connections = [await asyncpg.connect(with_database(backing[0], name)) for _ in range(4)]
        results = await asyncio.gather(*(migrate(c) for c in connections))
        everything = [version for version, _ in available()]
        assert sorted(results, key=len) == [[], [], [], everything], "one applies all; the others find it done"
        applied = await connections[0].fetch("SELECT version FROM schema_migrations ORDER BY 1")
        assert [r["version"] for r in applied] == everything
    finally:
        for connection in connections:
            await connection.close()
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.close()


@pytest.fixture
async def scratch(backing: tuple[str, str]) -> AsyncIterator[str]:
    """A migrated database of this test's own, with a table `probe` that a serving replica reads."""
    url = await create_database(backing[0])
    connection = await asyncpg.connect(url)
    await connection.execute("CREATE TABLE probe (id int)")
    await connection.close()
    try:
        yield url
    finally:
        await drop_database(backing[0], url)


async def test_a_migration_blocked_by_a_long_transaction_gives_up_its_lock_quickly(scratch: str) -> None:
    blocker, migrator, reader = [await asyncpg.connect(scratch) for _ in range(3)]
    expand = [("9001_probe", "ALTER TABLE probe ADD COLUMN extra int")]
    try:
        reading = blocker.transaction()  # a replica's long read transaction on the table the migration alters
        await reading.start()
        await blocker.fetch("SELECT * FROM probe")
        migrating = asyncio.create_task(migrate(migrator, expand, lock_timeout=0.3, attempts=2))
        await asyncio.sleep(0.1)
        # Queued behind the migration's lock request, a replica's read waits at most lock_timeout.
        started = time.monotonic()
        await asyncio.wait_for(reader.fetch("SELECT * FROM probe"), 10)  # without a lock_timeout: forever
        assert time.monotonic() - started < 1.0
        with pytest.raises(MigrationLockTimeout, match=r"migration 9001_probe could not take its table locks: 2 tries"):
            await migrating
        assert await reader.fetchval("SELECT count(*) FROM schema_migrations WHERE version = '9001_probe'") == 0
        assert "extra" not in [r["attname"] for r in await reader.fetch(COLUMNS)]

        # The long transaction ends while the migration waits to try again: the next try succeeds.
        migrating = asyncio.create_task(migrate(migrator, expand, lock_timeout=0.3, attempts=3))
        await asyncio.sleep(0.5)
        await reading.rollback()
        assert await migrating == ["9001_probe"]
        assert "extra" in [r["attname"] for r in await reader.fetch(COLUMNS)]
    finally:
        for connection in (blocker, migrator, reader):
            await connection.close()


COLUMNS = "SELECT attname FROM pg_attribute WHERE attrelid = 'probe'::regclass AND attnum > 0"
