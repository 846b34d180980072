"""Real PostgreSQL and Redis for every test: the configured ones, or bundled ones started here.

TUNEYARD_TEST_DATABASE_URL (a maintenance database such as .../postgres) and TUNEYARD_TEST_REDIS_URL
point the suite at running servers; without them it starts the embedded ones in a temporary folder.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest

from tests.support import JOB_TEST_SETTINGS, GraphQLClient, Server, service_env, tuneyard
from tests.support.databases import create_database, drop_database
from tests.support.datasets import DATASET_TABLES
from tests.support.standins.anthropic_api import AnthropicStandIn
from tests.support.standins.env import (
    ANTHROPIC_KEY,
    BUCKET,
    LOCATION,
    OPENAI_KEY,
    PROJECT,
    VERTEX_TOKEN,
    provider_env,
)
from tests.support.standins.ollama_api import OllamaStandIn
from tests.support.standins.openai_api import OpenAIStandIn
from tests.support.standins.vertex_api import VertexStandIn
from tests.support.tiny_model import build as build_tiny_model
from tests.support.tuning import Tuning, start_server
from tuneyard.core.db import create_pool
from tuneyard.embedded import EmbeddedPostgres, EmbeddedRedis


@pytest.fixture(scope="session")
def backing(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """(maintenance database URL, Redis URL)."""
    database_url = os.environ.get("TUNEYARD_TEST_DATABASE_URL")
    redis_url = os.environ.get("TUNEYARD_TEST_REDIS_URL")
    home = tmp_path_factory.mktemp("services")
    started: list[EmbeddedPostgres | EmbeddedRedis] = []
    try:
        if not database_url:
            postgres = EmbeddedPostgres(home / "postgres")
            postgres.start()
            started.append(postgres)
            database_url = postgres.admin_url
        if not redis_url:
            redis = EmbeddedRedis(home / "redis")
            redis.start()
            started.append(redis)
            redis_url = redis.url
        yield database_url, redis_url
    finally:
        for service in reversed(started):
            service.stop()


@pytest.fixture(scope="session")
def database_url(backing: tuple[str, str]) -> Iterator[str]:
    """A freshly migrated database of its own for this test session."""
    url = asyncio.run(create_database(backing[0]))
    yield url
    asyncio.run(drop_database(backing[0], url))


@pytest.fixture(scope="session")
def redis_url(backing: tuple[str, str]) -> str:
    return backing[1]


@pytest.fixture(scope="session")
def env(database_url: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return service_env(
        database_url, redis_url, TUNEYARD_HOME=str(tmp_path_factory.mktemp("home")), **JOB_TEST_SETTINGS,
        # Sessions sharing one Redis must never take each other's job messages or progress notices.
        TUNEYARD_QUEUE_NAMESPACE=f"tuneyard-test-{uuid.uuid4().hex[:12]}",
    )  # fmt: skip


@pytest.fixture(scope="session")
def server(env: dict[str, str]) -> Iterator[Server]:
    running = Server(env)
    running.start()
    yield running
    running.stop()


@pytest.fixture(scope="session")
def tokens(env: dict[str, str]) -> dict[str, str]:
    """One token per role, made with the CLI."""
    return {
        role: tuneyard("token", "create", "--role", role, "--name", f"test {role}", env=env).strip()
        for role in ("READER", "CURATOR", "ADMIN")
    }


@pytest.fixture(scope="session")
def curator(server: Server, tokens: dict[str, str]) -> GraphQLClient:
    return GraphQLClient(server.url, tokens["CURATOR"])


@pytest.fixture(scope="session")
def reader(server: Server, tokens: dict[str, str]) -> GraphQLClient:
    return GraphQLClient(server.url, tokens["READER"])


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A direct connection for checking what the API wrote; the example tables start empty."""
    connection = await asyncpg.connect(database_url)
    await connection.execute("TRUNCATE examples RESTART IDENTITY CASCADE")
    try:
        yield connection
    finally:
        await connection.close()


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    """A pool on the session's database, with examples and datasets emptied first."""
    connections = await create_pool(database_url, max_size=6)
    await connections.execute(DATASET_TABLES)
    try:
        yield connections
    finally:
        await connections.close()


@pytest.fixture(scope="session")
def openai_api() -> Iterator[OpenAIStandIn]:
    """A server speaking OpenAI's HTTP API (files, fine-tuning jobs) on 127.0.0.1."""
    stand_in = OpenAIStandIn(api_key=OPENAI_KEY)
    stand_in.start()
    yield stand_in
    stand_in.stop()


@pytest.fixture(scope="session")
def vertex_api() -> Iterator[VertexStandIn]:
    """A server speaking Vertex AI's tuningJobs API and Cloud Storage's JSON API on 127.0.0.1."""
    stand_in = VertexStandIn(project=PROJECT, location=LOCATION, bucket=BUCKET, token=VERTEX_TOKEN)
    stand_in.start()
    yield stand_in
    stand_in.stop()


@pytest.fixture(scope="session")
def ollama_api() -> Iterator[OllamaStandIn]:
    """A server speaking Ollama's REST API (tags, blobs, create) on 127.0.0.1, with one base model."""
    stand_in = OllamaStandIn(models=["llama3.2:1b"])
    stand_in.start()
    yield stand_in
    stand_in.stop()


@pytest.fixture(scope="session")
def anthropic_api() -> Iterator[AnthropicStandIn]:
    """A server speaking Anthropic's Messages API on 127.0.0.1."""
    stand_in = AnthropicStandIn(api_key=ANTHROPIC_KEY)
    stand_in.start()
    yield stand_in
    stand_in.stop()


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny llama model with random weights and a chat tokenizer: the LOCAL base model tests train for real."""
    return build_tiny_model(tmp_path_factory.mktemp("tiny-model") / "model")


@pytest.fixture(scope="session")
def providers_env(
    openai_api: OpenAIStandIn, vertex_api: VertexStandIn, ollama_api: OllamaStandIn, anthropic_api: AnthropicStandIn,
    tiny_model: Path,
) -> dict[str, str]:  # fmt: skip
    """Settings pointing every provider at its stand-in, and LOCAL at the tiny model."""
    return provider_env(openai_api, vertex_api, ollama_api, anthropic_api, tiny_model)


@pytest.fixture(scope="session")
def tuning(
    backing: tuple[str, str], providers_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Tuning]:
    """A server and worker of their own with every provider at its stand-in: fine-tunes, models, benchmarks."""
    yield from start_server(backing, tmp_path_factory.mktemp("ft-home"), providers_env)
