"""Example.modelId over real HTTP: recorded, read, re-recorded, filtered with every StringFilter operator, validated."""

from __future__ import annotations

import itertools
from typing import Any

import asyncpg
import pytest

from tests.support import RECORD, GraphQLClient
from tests.support.oracle import matches
from tuneyard.core.errors import ValidationError
from tuneyard.examples.filter_sql import compile_filter
from tuneyard.examples.models import MAX_MODEL_ID, NewExample, batch_columns

MODELS = ["ft:gpt-4.1-mini:acme::a1", "gemini-2.5-flash", "42", None]
PAGE = """query($f: ExampleFilter) { examples(filter: $f, first: 500) { totalCount nodes { id modelId } } }"""


def example(i: int, **changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "executionId": f"m-{i}",
        "userRequest": f"Plan post {i}",
        "intent": "publish",
        "qualityScore": round(i / 300, 3),
        "success": i % 4 != 0,
        "createdAt": f"2025-09-{(i % 28) + 1:02d}T10:00:00+00:00",
    }
    model = MODELS[i % len(MODELS)]
    if model is not None:  # an example without a model id leaves the field out, as older clients do
        base["modelId"] = model
    base.update(changes)
    return base


def record(client: GraphQLClient, batch: list[dict[str, Any]]) -> dict[str, int]:
    result: dict[str, int] = client.data(RECORD, {"examples": batch})["recordExamples"]
    return result


async def test_round_trip_through_record_examples_and_example(curator: GraphQLClient, db: asyncpg.Connection) -> None:
    assert record(curator, [example(0), example(3), example(4, modelId=None)]) == {
        "inserted": 3, "updated": 0, "unchanged": 0,
    }  # fmt: skip
    nodes = curator.data("{ examples(orderBy: CREATED_AT_ASC) { nodes { id executionId modelId } } }")["examples"]
    by_execution = {n["executionId"]: n for n in nodes["nodes"]}
    assert {k: n["modelId"] for k, n in by_execution.items()} == {"m-0": MODELS[0], "m-3": None, "m-4": None}
    one = curator.data("query($id: ID!) { example(id: $id) { modelId } }", {"id": by_execution["m-0"]["id"]})
    assert one == {"example": {"modelId": MODELS[0]}}
    assert await db.fetchval("SELECT model_id FROM example_rows WHERE execution_id = 'm-0'") == MODELS[0]
    longest = "m" * MAX_MODEL_ID
    assert record(curator, [example(9, modelId=longest)])["inserted"] == 1
    assert await db.fetchval("SELECT model_id FROM examples WHERE execution_id = 'm-9'") == longest


async def test_same_model_is_unchanged_another_is_an_update(curator: GraphQLClient, db: asyncpg.Connection) -> None:
    batch = [example(i) for i in range(8)]
    assert record(curator, batch) == {"inserted": 8, "updated": 0, "unchanged": 0}
    before = dict(await db.fetch("SELECT execution_id, updated_at FROM examples"))
    assert record(curator, batch) == {"inserted": 0, "updated": 0, "unchanged": 8}
    assert dict(await db.fetch("SELECT execution_id, updated_at FROM examples")) == before

    batch[0] = {**batch[0], "modelId": "another-model"}  # had MODELS[0]
    batch[3] = {**batch[3], "modelId": "first-model"}  # had none
    batch[1] = {k: v for k, v in batch[1].items() if k != "modelId"}  # had MODELS[1]: sent without one now
    assert record(curator, batch) == {"inserted": 0, "updated": 3, "unchanged": 5}
    after = dict(await db.fetch("SELECT execution_id, model_id FROM examples"))
    assert (after["m-0"], after["m-3"], after["m-1"]) == ("another-model", "first-model", None)
    moved = {k for k, v in await db.fetch("SELECT execution_id, updated_at FROM examples") if v != before[k]}
    assert moved == {"m-0", "m-1", "m-3"}, "only the examples whose model changed were updated"
    assert record(curator, batch) == {"inserted": 0, "updated": 0, "unchanged": 8}


def _string_ok(value: str | None, op: str, operand: Any) -> bool:
    """The documented rules, written out once more: a condition on a missing value is false; neq and notIn match it."""
    if op == "isNull":
        return (value is None) == operand
    if op == "neq":
        return value is None or value != operand
    if op == "notIn":
        return value is None or value not in operand
    if value is None:
        return False
    return value == operand if op == "eq" else value in operand


def _operands() -> list[tuple[str, Any]]:
    known = [m for m in MODELS if m is not None]
    single = [*known, "no-such-model"]
    lists = [[], [known[0]], [known[0], known[2]], ["no-such-model"], known]
    return [
        *(("eq", v) for v in single), *(("neq", v) for v in single), *(("in", v) for v in lists),
        *(("notIn", v) for v in lists), ("isNull", True), ("isNull", False),
    ]  # fmt: skip


async def test_every_operator_against_an_oracle(curator: GraphQLClient, db: asyncpg.Connection) -> None:
    sent = [example(i) for i in range(240)]
    record(curator, sent)
    await db.execute("UPDATE examples SET archived = true WHERE id % 11 = 0")
    rows = [dict(r) for r in await db.fetch("SELECT * FROM example_rows")]
    model_of = {s["executionId"]: s.get("modelId") for s in sent}  # what was sent, not what was stored
    live = [r for r in rows if not r["archived"]]

    def query(spec: dict[str, Any]) -> set[int]:
        page = curator.data(PAGE, {"f": spec})["examples"]
        assert page["totalCount"] == len(page["nodes"])
        return {int(n["id"]) for n in page["nodes"]}

    for op, operand in _operands():
        leaf = {"modelId": {op: operand}}
        expected = {r["id"] for r in live if _string_ok(model_of[r["execution_id"]], op, operand)}
        assert query(leaf) == expected == {r["id"] for r in rows if matches(r, leaf)}, leaf
        # `not` of a condition on a missing value is true: the complement, nulls included.
        assert query({"not": leaf}) == {r["id"] for r in live} - expected, leaf
    # Composed with other fields and with each other.
    for (op_a, a), (op_b, b) in itertools.islice(itertools.combinations(_operands(), 2), 0, None, 7):
        spec = {"or": [{"modelId": {op_a: a}}, {"modelId": {op_b: b}, "success": True}]}
        expected = {
            r["id"] for r in live
            if _string_ok(model_of[r["execution_id"]], op_a, a)
            or (_string_ok(model_of[r["execution_id"]], op_b, b) and r["success"])
        }  # fmt: skip
        assert query(spec) == expected, spec
    both = {"modelId": {"neq": MODELS[0], "isNull": False}}
    assert query(both) == {r["id"] for r in live if model_of[r["execution_id"]] not in (MODELS[0], None)}


async def test_model_ids_are_validated(curator: GraphQLClient, db: asyncpg.Connection) -> None:
    good = [example(i) for i in range(3)]
    invalid = "BAD_USER_INPUT"
    cases = [
        (example(3, modelId="m" * (MAX_MODEL_ID + 1)), f"examples[3].modelId: must be 1..{MAX_MODEL_ID} characters",
         invalid),
        (example(3, modelId=""), "examples[3].modelId", invalid),
        (example(3, modelId="   "), "examples[3].modelId", invalid),
        (example(3, modelId="gpt\x00-4"), "examples[3].modelId: must not contain the NUL character", invalid),
        (example(3, modelId=42), "[3].modelId", "GRAPHQL_VALIDATION_FAILED"),  # refused by GraphQL's own coercion
    ]  # fmt: skip
    for bad, message, code in cases:
        error = curator.error(RECORD, {"examples": [*good, bad]})
        assert message in error["message"] and error["extensions"]["code"] == code, error
        assert await db.fetchval("SELECT count(*) FROM examples") == 0, "a rejected batch writes nothing"
    nul_filter = curator.error(PAGE, {"f": {"modelId": {"in": ["ok", "bad\x00"]}}})
    assert nul_filter["extensions"]["code"] == "BAD_USER_INPUT"
    assert "filter.modelId.in: must not contain the NUL character" in nul_filter["message"]


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (NewExample("x\x00", "r"), "examples[0].executionId: must not contain the NUL character"),
        (NewExample("x", "r\x00"), "examples[0].userRequest: must not contain the NUL character"),
        (NewExample("x", "r", intent="\x00"), "examples[0].intent: must not contain the NUL character"),
        (NewExample("x", "r", platform="a\x00"), "examples[0].platform"),
        (NewExample("x", "r", tags=["ok", "b\x00d"]), "examples[0].tags: must not contain the NUL character"),
        (NewExample("x", "r", patterns_discovered=["\x00"]), "examples[0].patternsDiscovered"),
        (NewExample("x", "r", business_state={"k": "v\x00"}), "examples[0].businessState: must not contain"),
        (NewExample("x", "r", execution_plan={"k\x00": 1}), "examples[0].executionPlan: must not contain"),
        (NewExample("x", "r", model_id="m" * (MAX_MODEL_ID + 1)), "examples[0].modelId: must be 1..255"),
    ],
)
def test_nul_is_refused_in_every_text_field_before_the_database(bad: NewExample, message: str) -> None:
    with pytest.raises(ValidationError) as raised:
        batch_columns([bad])
    assert message in raised.value.message


def test_escaped_backslashes_are_not_taken_for_nul() -> None:
    # "\\u0000" as text (a backslash, then u0000) is fine; so is a NUL-free key next to it.
    batch_columns([NewExample("x", "r", business_state={"path": "C:\\u0000", "a\\": "\\\\u0000"})])
    with pytest.raises(ValidationError, match="must not contain"):
        batch_columns([NewExample("x", "r", business_state={"path": "C:\\\x00"})])


def test_filter_values_are_checked_for_nul() -> None:
    for spec, where in [
        ({"modelId": {"eq": "a\x00"}}, "filter.modelId.eq"),
        ({"intent": {"neq": "\x00"}}, "filter.intent.neq"),
        ({"platform": {"notIn": ["x", "\x00"]}}, "filter.platform.notIn"),
        ({"tags": {"containsAny": ["\x00"]}}, "filter.tags.containsAny"),
        ({"text": "find\x00me"}, "filter.text"),
    ]:
        with pytest.raises(ValidationError, match=rf"{where.replace('.', '[.]')}: must not contain the NUL"):
            compile_filter(spec)
