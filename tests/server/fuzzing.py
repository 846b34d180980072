"""Random valid operations over the exported schema (hypothesis-graphql), and what every answer must satisfy.

Shared by tests/server/test_fuzz.py (a few hundred operations per role) and bench/fuzz.py (thousands, with
figures). An answer must never be a 5xx, never show internals (a traceback, SQL, a driver's name, an internal
host:port or URL), and a READER's mutation must change nothing.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import httpx
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import mutations, nodes, queries

from tuneyard.schema import schema

SDL = schema.as_str()
_root = schema._schema
QUERY_FIELDS = sorted(_root.query_type.fields) if _root.query_type else []

# Mutations left out, each with its reason: they start long jobs on providers or workers, or would pull the rug
# from under the fuzzing itself. Every one of them is tested on its own elsewhere.
EXCLUDED_MUTATIONS = {
    "startFineTune": "starts a FINE_TUNE job on a provider (tests/finetunes)",
    "benchmarkModels": "a BENCHMARK job calling every provider's inference API (tests/registry)",
    "exportDataset": "an EXPORT job writing files, long for a big dataset (tests/datasets)",
    "checkExamples": "a MAINTENANCE job scanning every example (tests/maintenance)",
    "revokeToken": "would revoke the tokens the fuzzing runs with (tests/auth)",
}
MUTATION_FIELDS = sorted(set(_root.mutation_type.fields) - set(EXCLUDED_MUTATIONS)) if _root.mutation_type else []

_json: st.SearchStrategy[Any] = st.recursive(
    st.none().map(lambda _: nodes.Null)
    | st.booleans().map(nodes.Boolean)
    | st.integers(-(2**60), 2**60).map(nodes.Int)
    | st.floats(allow_nan=False, allow_infinity=False).map(nodes.Float)
    | st.text(max_size=20).map(nodes.String),
    lambda inner: (
        st.lists(inner, max_size=4).map(nodes.List)
        | st.dictionaries(st.from_regex(r"[a-z]{1,6}", fullmatch=True), inner, max_size=4).map(
            lambda d: nodes.Object([_field(k, v) for k, v in d.items()])
        )
    ),
    max_leaves=12,
)
SCALARS: dict[str, st.SearchStrategy[Any]] = {
    "JSON": _json,
    "DateTime": (st.datetimes().map(lambda d: d.isoformat() + "Z") | st.text(max_size=30)).map(nodes.String),
    "Date": (st.dates().map(str) | st.text(max_size=12)).map(nodes.String),
}


def _field(name: str, value: Any) -> Any:
    from graphql import NameNode, ObjectFieldNode

    return ObjectFieldNode(name=NameNode(value=name), value=value)


def operations(kind: str) -> st.SearchStrategy[str]:
    """Valid queries, or mutations (without the excluded ones), over the exported schema."""
    if kind == "query":
        return queries(SDL, fields=QUERY_FIELDS, custom_scalars=SCALARS)  # type: ignore[no-any-return]
    return mutations(SDL, fields=MUTATION_FIELDS, custom_scalars=SCALARS)  # type: ignore[no-any-return]


# What must never reach a client: tracebacks, SQL, drivers, internal URLs and host:port pairs, source paths.
LEAKS = re.compile(
    r"Traceback|File \"|\basyncpg\b|\bpsycopg|\bredis\.|\bSELECT\s.+\sFROM\b|\bINSERT INTO\b|\bUPDATE \w+ SET\b|"
    r"\bDELETE FROM\b|postgresql://|redis://|\b(?:127\.0\.0\.1|localhost):\d+|/site-packages/|\.py\", line",
    re.IGNORECASE,
)


@dataclass
class Tally:
    """What the answers were: statuses, error codes, and every violation found."""

    statuses: Counter[int] = field(default_factory=Counter)
    codes: Counter[str] = field(default_factory=Counter)
    violations: list[str] = field(default_factory=list)
    masked: list[str] = field(default_factory=list)  # operations answered INTERNAL_SERVER_ERROR (a bug, masked)


def check(query: str, response: httpx.Response, tally: Tally, read_only: bool) -> None:
    """Record the answer; note a violation for a 5xx, an internal in a message, or a READER mutation that ran."""
    tally.statuses[response.status_code] += 1
    if response.status_code >= 500:
        tally.violations.append(f"HTTP {response.status_code} for {query!r}: {response.text[:300]}")
        return
    body = response.json()
    for error in body.get("errors") or ():
        code = (error.get("extensions") or {}).get("code", "?")
        tally.codes[code] += 1
        if code == "INTERNAL_SERVER_ERROR":
            tally.masked.append(query)
        if LEAKS.search(error.get("message", "")):
            tally.violations.append(f"internal shown for {query!r}: {error['message'][:300]}")
    data = body.get("data") or {}
    if read_only and query.lstrip().startswith("mutation") and any(value is not None for value in data.values()):
        tally.violations.append(f"a READER mutation answered data: {query!r}: {str(data)[:300]}")


def run(client: httpx.Client, kind: str, count: int, tally: Tally, read_only: bool = False) -> None:
    """Send `count` random operations of this kind (derandomized: the same ones every run), checking each."""

    @settings(
        max_examples=count, deadline=None, database=None, derandomize=True,
        phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck),
    )  # fmt: skip
    @given(operations(kind))
    def one(query: str) -> None:
        check(query, client.post("/graphql", json={"query": query}), tally, read_only)

    one()


# Everything a READER must not be able to change. Token use (last_used_at) and the audit log of refused attempts
# are not data a READER changes.
async def fingerprint(database_url: str) -> dict[str, str]:
    """An md5 of every table's rows (api_tokens without last_used_at; audit_log left out)."""
    connection = await asyncpg.connect(database_url)
    try:
        tables = await connection.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'audit_log' ORDER BY 1"
        )
        found = {}
        for (table,) in tables:
            rows = "t" if table != "api_tokens" else "(t.id, t.name, t.role, t.revoked_at)"
            found[table] = await connection.fetchval(
                f"SELECT md5(coalesce(string_agg({rows}::text, '|' ORDER BY {rows}::text), '')) FROM \"{table}\" t"
            )
        return found
    finally:
        await connection.close()
