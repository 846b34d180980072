"""Random valid operations from every role over the exported schema: no 5xx, no internals shown, no READER change.

The same operations every run (derandomized); bench/fuzz.py sends thousands and prints figures.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.server.fuzzing import Tally, fingerprint, run
from tests.support import JOB_TEST_SETTINGS, RECORD, GraphQLClient, Server, service_env, tuneyard
from tests.support.databases import create_database, drop_database

PER_KIND = 100  # queries, and as many mutations, per role


@pytest.fixture(scope="module")
def fuzzed(backing: tuple[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, str]]:
    """A server (no workers) on a database of its own, which the fuzzing may fill with anything."""
    url = asyncio.run(create_database(backing[0]))
    env = service_env(
        url, backing[1], TUNEYARD_HOME=str(tmp_path_factory.mktemp("fuzz-home")), TUNEYARD_SERVE_WORKERS="0",
        TUNEYARD_QUEUE_NAMESPACE=f"tuneyard-fuzz-{uuid.uuid4().hex[:12]}", **JOB_TEST_SETTINGS,
    )  # fmt: skip
    running = Server(env)
    running.start()
    try:
        yield running, url
    finally:
        running.stop()
        asyncio.run(drop_database(backing[0], url))


def _client(server: Server, role: str) -> httpx.Client:
    token = tuneyard("token", "create", "--role", role, "--name", f"fuzz {role}", env=server.env).strip()
    return GraphQLClient(server.url, token).http


@pytest.mark.parametrize("role", ["CURATOR", "ADMIN"])
def test_writers_get_no_5xx_and_no_internals(fuzzed: tuple[Server, str], role: str) -> None:
    client, tally = _client(fuzzed[0], role), Tally()
    for kind in ("query", "mutation"):
        run(client, kind, PER_KIND, tally)
    assert not tally.violations, tally.violations[:5]
    assert sum(tally.statuses.values()) >= PER_KIND, tally.statuses


async def test_a_reader_changes_nothing_and_gets_no_5xx(fuzzed: tuple[Server, str]) -> None:
    server, url = fuzzed
    curator = _client(server, "CURATOR")
    batch = [{"executionId": f"fz-{n}", "userRequest": f"request {n}", "tags": ["a"]} for n in range(20)]
    assert curator.post("/graphql", json={"query": RECORD, "variables": {"examples": batch}}).status_code == 200
    client, tally = _client(server, "READER"), Tally()
    before = await fingerprint(url)
    await asyncio.to_thread(run, client, "mutation", PER_KIND * 2, tally, True)
    await asyncio.to_thread(run, client, "query", PER_KIND, tally, True)
    assert not tally.violations, tally.violations[:5]
    assert tally.codes["FORBIDDEN"] > 0, tally.codes
    assert await fingerprint(url) == before, "a READER's mutations changed the data"
