"""The audit log over real HTTP: every mutation writes exactly one entry (token name, operation, summarised
arguments, affected count) with its change, a refused one none; never a secret; ADMIN only; keyset pages."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import orjson
import pytest

from tests.support import RECORD, GraphQLClient, Server, tuneyard
from tests.support.databases import create_database, drop_database
from tuneyard.core import audit
from tuneyard.core.db import create_pool, transact
from tuneyard.embedded import EmbeddedRedis
from tuneyard.schema import Mutation, schema

MUTATIONS = {schema.config.name_converter.from_field(f) for f in Mutation.__strawberry_definition__.fields}  # type: ignore[attr-defined]
OPENAI_KEY = "sk-audit-secret-key-0123456789"
ENTRIES = """query($operation: String, $first: Int, $after: String) {
  auditLog(operation: $operation, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { cursor node { id at tokenName operation summary affectedCount } }
  } }"""


@dataclass
class Audited:
    server: Server
    database_url: str
    admin: GraphQLClient
    curator: GraphQLClient
    reader: GraphQLClient
    env: dict[str, str]
    curator_token: str

    def entries(self, operation: str | None = None, first: int = 500) -> list[dict[str, Any]]:
        found = self.admin.data(ENTRIES, {"operation": operation, "first": first})["auditLog"]
        return [edge["node"] for edge in found["edges"]]

    def total(self) -> int:
        count: int = self.admin.data("{ auditLog(first: 0) { totalCount } }")["auditLog"]["totalCount"]
        return count


@pytest.fixture(scope="module")
def audited(backing: tuple[str, str], env: dict[str, str]) -> Iterator[Audited]:
    """A server and database of their own (the entries are counted), with OpenAI configured (its key must never
    show) and no worker: jobs stay QUEUED, which is all these mutations need."""
    url = asyncio.run(create_database(backing[0]))
    own = {**env, "TUNEYARD_DATABASE_URL": url, "TUNEYARD_SERVE_WORKERS": "0", "TUNEYARD_OPENAI_API_KEY": OPENAI_KEY}
    server = Server(own)
    server.start()
    try:
        made = {r: tuneyard("token", "create", "--role", r, "--name", f"audit {r}", env=own).strip()
                for r in ("ADMIN", "CURATOR", "READER")}  # fmt: skip
        clients = (GraphQLClient(server.url, made[r]) for r in ("ADMIN", "CURATOR", "READER"))
        yield Audited(server, url, *clients, env=own, curator_token=made["CURATOR"])
    finally:
        server.stop()
        asyncio.run(drop_database(backing[0], url))


def example(i: int, **more: Any) -> dict[str, Any]:
    return {"executionId": f"audit-{i:02d}", "userRequest": f"request {i}", "intent": "publish",
            "qualityScore": 0.5 + i / 100, "executionPlan": {"steps": [f"step {i}"]}, **more}  # fmt: skip


def one_entry(found: Audited, client: GraphQLClient, query: str, variables: dict[str, Any] | None = None) -> Any:
    """Run a mutation that must succeed; it wrote exactly one entry, the newest. (data, entry)"""
    before = found.total()
    data = client.data(query, variables)
    assert found.total() == before + 1
    return data, found.entries(first=1)[0]


def test_every_mutation_writes_one_entry_with_its_change(audited: Audited) -> None:
    admin, curator = audited.admin, audited.curator
    seen: dict[str, dict[str, Any]] = {}

    def run(
        client: GraphQLClient, query: str, variables: dict[str, Any] | None = None, affected: int | None = 1
    ) -> Any:
        data, entry = one_entry(audited, client, query, variables)
        operation = next(iter(data))
        assert entry["operation"] == operation
        assert entry["tokenName"] == ("audit ADMIN" if client is admin else "audit CURATOR")
        assert entry["affectedCount"] == affected, (operation, entry)
        seen[operation] = entry
        return data[operation]

    batch = [example(i) for i in range(24)]
    run(curator, RECORD, {"examples": batch}, affected=24)
    assert seen["recordExamples"]["summary"] == {
        "examples": {"count": 24, "first": ["audit-00", "audit-01", "audit-02"]}
    }
    run(curator, RECORD, {"examples": batch[:2]}, affected=0)  # unchanged: nothing affected, still audited
    tagged = run(curator, 'mutation { tagExamples(where: {qualityScore: {gte: 0.7}}, add: ["good"], note: "n") '
                          "{ id affectedCount } }", affected=4)  # fmt: skip
    assert seen["tagExamples"]["summary"] == {"where": {"qualityScore": {"gte": 0.7}}, "add": ["good"], "note": "n"}
    run(curator, "mutation($id: ID!) { undoTagOperation(id: $id) { id } }", {"id": tagged["id"]}, affected=4)
    test_ids = {"executionId": {"in": ["audit-22", "audit-23"]}}
    run(curator, "mutation($w: ExampleFilter!) { archiveExamples(where: $w) { affectedCount } }", {"w": test_ids}, 2)
    run(curator, 'mutation { restoreExamples(where: {executionId: {eq: "audit-22"}}) { affectedCount } }')
    purge = "mutation($c: String!) { purgeExamples(where: {}, confirm: $c) { deletedCount } }"
    run(admin, purge, {"c": ""}, affected=0)
    run(admin, purge, {"c": "1"}, affected=1)
    create = (
        'mutation($f: Float) { createDataset(input: {name: "a", where: {}, validationFraction: $f, seed: 1}) { id } }'
    )
    first = run(curator, create, {"f": 0.2}, affected=23)["id"]
    second = run(curator, create, {"f": 0.0}, affected=23)["id"]
    run(curator, "mutation($id: ID!) { setCurrentDataset(id: $id) { id } }", {"id": first})
    run(curator, "mutation($id: ID!) { deleteDataset(id: $id) { id } }", {"id": second})
    run(curator, "mutation($id: ID!) { exportDataset(id: $id, format: RAW) { id } }", {"id": first})
    job = run(curator, "mutation { checkExamples(chunkSize: 10) { id } }")["id"]
    run(curator, "mutation($id: ID!) { cancelJob(id: $id) { status } }", {"id": job})
    run(admin, 'mutation($id: ID!) { startFineTune(input: {datasetId: $id, provider: OPENAI, '
               'baseModel: "gpt-4.1-mini-2025-04-14", epochs: 1, extra: {suffix: "audit"}}) { id } }', {"id": first})  # fmt: skip
    register = (
        "mutation($m: String!) { registerModel(input: {name: $m, provider: OLLAMA, providerModelId: $m}) { id } }"
    )
    one, two = (run(admin, register, {"m": m})["id"] for m in ("llama3.2:1b", "qwen:0.5b"))
    activate = 'mutation($id: ID!) { setActiveModel(modelId: $id, reason: "try") { since } }'
    run(admin, activate, {"id": one})
    run(admin, activate, {"id": one}, affected=0)  # already active: nothing recorded but the entry
    run(admin, activate, {"id": two})
    run(admin, 'mutation { rollbackActiveModel(reason: "back") { since } }')
    run(admin, "mutation($ids: [ID!]!, $d: ID!) { benchmarkModels(modelIds: $ids, datasetId: $d) { id } }",
        {"ids": [one, two], "d": first})  # fmt: skip
    run(admin, "mutation($id: ID!) { retireModel(id: $id) { id } }", {"id": two})
    made = run(admin, 'mutation { createToken(name: "temp", role: READER) { token apiToken { id } } }')
    run(admin, "mutation($id: ID!) { revokeToken(id: $id) { id } }", {"id": made["apiToken"]["id"]})
    run(admin, "mutation($id: ID!) { revokeToken(id: $id) { id } }", {"id": made["apiToken"]["id"]}, affected=0)

    assert set(seen) == MUTATIONS  # every one the schema has
    assert seen["createToken"]["summary"] == {"name": "temp", "role": "READER"}
    assert seen["startFineTune"]["summary"]["input"]["extra"] == {"suffix": "audit"}
    everything = orjson.dumps(audited.entries()).decode()
    assert made["token"] not in everything and OPENAI_KEY not in everything


def test_every_mutation_resolver_is_audited() -> None:
    """A mutation added without @audited would write no entry: each resolver of the schema's Mutation is wrapped."""
    for field in Mutation.__strawberry_definition__.fields:  # type: ignore[attr-defined]
        assert getattr(field.base_resolver.wrapped_func, "audited", False), field.name


@pytest.mark.parametrize(
    ("role", "query", "variables"),
    [
        ("READER", RECORD, {"examples": [example(90)]}),  # FORBIDDEN
        ("CURATOR", RECORD, {"examples": [example(91), example(92, qualityScore=2)]}),  # BAD_USER_INPUT
        ("CURATOR", 'mutation { undoTagOperation(id: "999999") { id } }', None),  # NOT_FOUND in its transaction
        ("CURATOR", 'mutation { createDataset(input: {name: "none", where: {intent: {eq: "nothing"}}}) { id } }', None),
        ("CURATOR", 'mutation { cancelJob(id: "999999") { id } }', None),
        ("CURATOR", 'mutation { setCurrentDataset(id: "999999") { id } }', None),
        ("ADMIN", 'mutation { retireModel(id: "999999") { id } }', None),
        ("ADMIN", 'mutation { purgeExamples(where: {}, confirm: "12345") { deletedCount } }', None),
        ("ADMIN", 'mutation { createToken(name: "", role: READER) { token } }', None),
    ],
)
def test_a_refused_mutation_leaves_no_entry(
    audited: Audited, role: str, query: str, variables: dict[str, Any] | None
) -> None:
    client = {"READER": audited.reader, "CURATOR": audited.curator, "ADMIN": audited.admin}[role]
    before = audited.total()
    client.error(query, variables)
    assert audited.total() == before


def test_a_duplicate_model_is_refused_without_an_entry(audited: Audited) -> None:
    register = (
        'mutation { registerModel(input: {name: "dup", provider: ANTHROPIC, providerModelId: "claude-dup"}) { id } }'
    )
    audited.admin.data(register)
    before = audited.total()
    assert audited.admin.error(register)["extensions"]["code"] == "CONFLICT"
    assert audited.total() == before


def test_a_job_redis_refused_takes_its_entry_with_it(audited: Audited, tmp_path: Path) -> None:
    """The job row is committed (with its entry) before its message is sent; when Redis refuses the message, the
    row is deleted again, and the entry with it: the mutation failed, so it left nothing."""
    redis = EmbeddedRedis(tmp_path / "redis")
    redis.start()
    server = Server({**audited.env, "TUNEYARD_REDIS_URL": redis.url, "TUNEYARD_QUEUE_NAMESPACE": "audit-down"})
    try:
        server.start()
        curator = GraphQLClient(server.url, audited.curator_token)
        before = audited.total()
        redis.stop()
        error = curator.error("mutation { checkExamples { id } }")
        assert error["extensions"]["code"] == "UNAVAILABLE", error
        assert audited.total() == before
    finally:
        server.stop()
        redis.stop()


@pytest.mark.parametrize("role", ["READER", "CURATOR"])
def test_only_admins_read_the_log(audited: Audited, role: str) -> None:
    client = audited.reader if role == "READER" else audited.curator
    error = client.error(ENTRIES)
    assert error["extensions"]["code"] == "FORBIDDEN"


def test_pages_walk_every_entry_once_newest_first(audited: Audited) -> None:
    for i in range(5):
        audited.admin.data("mutation($n: String!) { registerModel(input: {name: $n, provider: OLLAMA, "
                           "providerModelId: $n}) { id } }", {"n": f"paged-{i}"})  # fmt: skip
    everything = audited.entries()
    walked, after = [], None
    while True:
        page = audited.admin.data(ENTRIES, {"first": 2, "after": after})["auditLog"]
        walked += [edge["node"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert walked == everything and len(walked) == audited.total()
    assert [int(e["id"]) for e in walked] == sorted((int(e["id"]) for e in walked), reverse=True)
    registered = audited.entries("registerModel")
    assert registered and {e["operation"] for e in registered} == {"registerModel"}
    assert [e["summary"]["input"]["name"] for e in registered[:5]] == [f"paged-{i}" for i in reversed(range(5))]
    assert audited.admin.error(ENTRIES, {"first": 501})["extensions"]["code"] == "BAD_USER_INPUT"
    assert audited.admin.error(ENTRIES, {"after": "not-a-cursor"})["extensions"]["code"] == "BAD_USER_INPUT"


async def test_a_retried_transaction_writes_its_entry_once(audited: Audited) -> None:
    """A transaction PostgreSQL aborts (here: the first attempt raises a serialization failure) rolls its entry back
    with it; the attempt that commits writes the one entry."""
    pool = await create_pool(audited.database_url, max_size=2)
    attempts = 0

    async def work(conn: asyncpg.Connection) -> int:
        nonlocal attempts
        attempts += 1
        await conn.execute("SELECT 1")
        if attempts == 1:
            raise asyncpg.SerializationError("could not serialize access")
        return 7

    try:
        with audit.opened("retry test", "retried", {"n": 1}) as scope:
            assert await transact(pool, work, affected=lambda n: n) == 7
            assert await transact(pool, work) == 7  # a second transaction of the same mutation writes no other
        rows = await pool.fetch("SELECT operation, affected_count FROM audit_log WHERE token_name = 'retry test'")
        assert attempts == 3 and scope.entry_id is not None
        assert [tuple(r) for r in rows] == [("retried", 7)]
    finally:
        await pool.close()


def test_summaries_are_short_and_hold_no_secret() -> None:
    summary = audit.summarise_arguments({
        "input": {"name": "x" * 1000, "extra": {"apiKey": "sk-1", "nested": {"client_secret": "s", "ok": 1}}},
        "ids": [str(i) for i in range(100)],
        "big": {"state": ["y" * 150] * 5},
    })  # fmt: skip
    assert summary["input"]["name"] == "x" * 200 + "... (1,000 characters)"
    assert summary["input"]["extra"] == {"apiKey": "[redacted]", "nested": {"client_secret": "[redacted]", "ok": 1}}
    assert summary["ids"] == {"count": 100, "first": ["0", "1", "2"]}
    assert set(summary["big"]) == {"jsonBytes"}
    assert audit.summarise_arguments({"token": "ty_secret"}) == {"token": "[redacted]"}
