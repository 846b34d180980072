"""active_model() against a real server: what the contract's activeModel says, cached for active_model_ttl, and the
last answer (marked stale) while the server is away, even in a client started after it went."""

from __future__ import annotations

import dataclasses
import uuid
from pathlib import Path

import pytest

from tests.client.conftest import server_away, unique
from tests.support import GraphQLClient, Server, free_port
from tuneyard.client import AsyncTuneyardClient, ModelRef, TuneyardClient, TuneyardError, TuneyardUnavailable

REGISTER = "mutation($input: RegisterModelInput!) { registerModel(input: $input) { id name } }"
ACTIVATE = "mutation($id: ID!, $purpose: String!) { setActiveModel(modelId: $id, purpose: $purpose) { since } }"


def register(admin: GraphQLClient) -> ModelRef:
    """An Ollama model of its own (a provider model id is registered once per session database)."""
    tag = f"planner-{uuid.uuid4().hex[:8]}:v1"
    found = admin.data(REGISTER, {"input": {"name": tag, "provider": "OLLAMA", "providerModelId": tag}})
    return ModelRef(found["registerModel"]["id"], tag, "OLLAMA", tag, tag)


def activate(admin: GraphQLClient, model: ModelRef, purpose: str) -> None:
    admin.data(ACTIVATE, {"id": model.id, "purpose": purpose})


def test_the_active_model_is_cached_and_still_known_while_the_server_is_away(
    own_server: Server, tokens: dict[str, str], tmp_path: Path
) -> None:
    admin = GraphQLClient(own_server.url, tokens["ADMIN"])
    purpose = unique()
    first, second = register(admin), register(admin)
    activate(admin, first, purpose)
    activate(admin, second, purpose)  # the one before it becomes its fallback
    token = tokens["CURATOR"]
    cached = TuneyardClient(own_server.url, token, spool_dir=tmp_path / "cached", active_model_ttl=3600)
    asking = TuneyardClient(own_server.url, token, spool_dir=tmp_path / "asking", active_model_ttl=0)
    try:
        answer = cached.active_model(purpose)
        assert answer is not None and not answer.stale
        assert (answer.purpose, answer.model, answer.fallbacks) == (purpose, second, (first,))
        assert answer.candidates == (second, first)

        activate(admin, first, purpose)
        assert cached.active_model(purpose) == answer  # within active_model_ttl: not asked again
        now = asking.active_model(purpose)
        assert now is not None and (now.model, now.fallbacks, now.stale) == (first, (second,), False)

        with server_away(own_server):
            stale = asking.active_model(purpose)
            assert stale == dataclasses.replace(now, stale=True)
            asking.close()
            with TuneyardClient(own_server.url, token, spool_dir=tmp_path / "asking") as restarted:
                assert restarted.active_model(purpose) == stale  # from the file the last client left
            with (
                TuneyardClient(own_server.url, token, spool_dir=tmp_path / "new") as new,
                pytest.raises(TuneyardUnavailable),
            ):
                new.active_model(purpose)  # never answered, nothing left by an earlier run
        with TuneyardClient(own_server.url, token, spool_dir=tmp_path / "asking", active_model_ttl=0) as back:
            assert back.active_model(purpose) == now  # fresh again
            assert back.active_model(unique()) is None  # a purpose without an active model
    finally:
        cached.close()
        asking.close()


def test_a_refusal_that_is_not_an_outage_is_raised(server: Server, tmp_path: Path) -> None:
    with TuneyardClient(server.url, "ty_not-a-token", spool_dir=tmp_path) as client, pytest.raises(TuneyardError) as e:
        client.active_model()
    assert e.value.code == "UNAUTHENTICATED" and not isinstance(e.value, TuneyardUnavailable)


async def test_the_async_client_answers_the_same(own_server: Server, tokens: dict[str, str], tmp_path: Path) -> None:
    admin = GraphQLClient(own_server.url, tokens["ADMIN"])
    purpose, model = unique(), register(admin)
    activate(admin, model, purpose)
    async with AsyncTuneyardClient(own_server.url, tokens["CURATOR"], spool_dir=tmp_path) as client:
        fresh = await client.active_model(purpose)
    assert fresh is not None and (fresh.model, fresh.fallbacks, fresh.stale) == (model, (), False)
    away = f"http://127.0.0.1:{free_port()}"  # nobody listens there
    async with AsyncTuneyardClient(away, tokens["CURATOR"], spool_dir=tmp_path) as restarted:
        assert await restarted.active_model(purpose) == dataclasses.replace(fresh, stale=True)
