"""Fuzz the API with thousands of random valid operations per role (hypothesis-graphql over the exported schema).

    .venv/bin/python -m bench.fuzz [--per-kind 1000]

Prints, per role: operations sent, time, HTTP statuses, error codes, violations (5xx, internals shown, READER
changes) and the operations answered with a masked INTERNAL_SERVER_ERROR (bugs to look at). Exits 1 on any
violation.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import uuid

from bench.common import ADMIN_URL, REDIS_URL, create_database, drop_database
from tests.server.fuzzing import EXCLUDED_MUTATIONS, Tally, fingerprint, run
from tests.support import RECORD, GraphQLClient, Server, service_env, tuneyard


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-kind", type=int, default=1000, help="queries, and as many mutations, per role")
    args = parser.parse_args()
    url = asyncio.run(create_database())
    env = service_env(
        url, REDIS_URL, TUNEYARD_HOME=f"/tmp/tuneyard-fuzz-{uuid.uuid4().hex[:8]}", TUNEYARD_SERVE_WORKERS="0",
        TUNEYARD_QUEUE_NAMESPACE=f"tuneyard-fuzz-{uuid.uuid4().hex[:12]}",
    )  # fmt: skip
    server = Server(env)
    server.start()
    failed = False
    try:
        print(f"database {ADMIN_URL.rsplit('/', 1)[0]}/..., left out: {', '.join(sorted(EXCLUDED_MUTATIONS))}")
        clients = {
            role: GraphQLClient(
                server.url, tuneyard("token", "create", "--role", role, "--name", role, env=env).strip()
            )
            for role in ("READER", "CURATOR", "ADMIN")
        }
        seed = [{"executionId": f"fz-{n}", "userRequest": f"request {n}", "tags": ["a"]} for n in range(50)]
        clients["CURATOR"].data(RECORD, {"examples": seed})
        for role in ("READER", "CURATOR", "ADMIN"):
            before = asyncio.run(fingerprint(url)) if role == "READER" else None
            tally, started = Tally(), time.perf_counter()
            for kind in ("query", "mutation"):
                run(clients[role].http, kind, args.per_kind, tally, read_only=role == "READER")
            seconds = time.perf_counter() - started
            if before is not None and asyncio.run(fingerprint(url)) != before:
                tally.violations.append("the READER's operations changed the data")
            sent = sum(tally.statuses.values())
            print(f"\n{role}: {sent} operations in {seconds:.1f} s ({sent / seconds:.0f}/s)")
            print(f"  statuses: {dict(sorted(tally.statuses.items()))}")
            print(f"  error codes: {dict(tally.codes.most_common())}")
            print(f"  violations: {len(tally.violations)}")
            for violation in tally.violations[:5]:
                print(f"    {violation}")
            print(f"  masked INTERNAL_SERVER_ERROR: {len(tally.masked)}")
            for query in tally.masked[:3]:
                print(f"    {query[:300]!r}")
            failed = failed or bool(tally.violations)
    finally:
        server.stop()
        asyncio.run(drop_database(url))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
