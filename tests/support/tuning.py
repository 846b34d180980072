"""A Tuneyard server (with its worker) whose providers all point at stand-ins on 127.0.0.1 that speak their HTTP
APIs; a database and queue namespace of its own, so no other server's worker takes its jobs."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.data import examples as generate
from tests.support import JOB_TEST_SETTINGS, RECORD, GraphQLClient, Server, service_env, tuneyard
from tests.support.databases import create_database, drop_database


@dataclass
class Tuning:
    server: Server
    env: dict[str, str]
    admin: GraphQLClient
    curator: GraphQLClient
    reader: GraphQLClient

    def dataset(self, count: int, validation_fraction: float = 0.2, name: str | None = None) -> dict[str, Any]:
        """Record `count` generated examples under a fresh prefix and freeze them as a new version."""
        prefix = f"ft-{uuid.uuid4().hex[:8]}"
        rows = list(generate(count, seed=11, prefix=prefix))
        for i in range(0, count, 1000):
            self.curator.data(RECORD, {"examples": rows[i : i + 1000]})
        created: dict[str, Any] = self.curator.data(
            """mutation($input: CreateDatasetInput!) { createDataset(input: $input) {
                 id name version exampleCount trainCount validationCount } }""",
            {"input": {"name": name or prefix, "where": {"executionId": {"in": [r["executionId"] for r in rows]}},
                       "validationFraction": validation_fraction, "seed": 3}},
        )["createDataset"]  # fmt: skip
        return created


def start_server(backing: tuple[str, str], home: Path, extra: dict[str, str]) -> Iterator[Tuning]:
    url = asyncio.run(create_database(backing[0]))
    env = service_env(
        url, backing[1], TUNEYARD_HOME=str(home), TUNEYARD_QUEUE_NAMESPACE=f"tuneyard-ft-{uuid.uuid4().hex[:12]}",
        **JOB_TEST_SETTINGS, **extra,
    )  # fmt: skip
    server = Server(env)
    server.start()
    try:
        tokens = {
            role: tuneyard("token", "create", "--role", role, "--name", f"ft {role}", env=env).strip()
            for role in ("READER", "CURATOR", "ADMIN")
        }
        yield Tuning(server, env, *(GraphQLClient(server.url, tokens[r]) for r in ("ADMIN", "CURATOR", "READER")))
    finally:
        server.stop()
        asyncio.run(drop_database(backing[0], url))
