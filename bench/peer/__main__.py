"""`python -m bench.peer`: install PostGraphile, start it and Tuneyard on the bench database, check that both return
the same rows, measure both in interleaved rounds, print the tables and write them to bench/RESULTS.md.

Usage: .venv/bin/python -m bench.peer [--rows N] [--rounds N] [--seconds S] [--check-only]
The database is bench.curation's `tuneyard_bench_<rows>` on TUNEYARD_BENCH_DATABASE_URL's server (built when
missing); Tuneyard's Redis is TUNEYARD_BENCH_REDIS_URL.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import shutil
import sys
from collections.abc import Iterator

from bench.common import start_server
from bench.curation import ensure_data
from bench.peer import report
from bench.peer.client import Endpoint
from bench.peer.install import PeerInstall, ensure_installed
from bench.peer.measure import Options, measure, pin_apart
from bench.peer.postgraphile import PostGraphile
from bench.peer.rowcheck import RowCheckFailed, check_rows


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.peer", description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000, help="examples in the database (default 1,000,000)")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds of every measurement (default 5)")
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each loaded phase (default 5)")
    parser.add_argument("--requests", type=int, default=300, help="most sequential requests per phase (default 300)")
    parser.add_argument("--connections", type=int, default=16, help="concurrent keep-alive connections (default 16)")
    parser.add_argument("--check-only", action="store_true", help="install, start both servers, check rows; no timing")
    return parser.parse_args(argv)


@contextlib.contextmanager
def running_servers(install: PeerInstall, database_url: str) -> Iterator[tuple[Endpoint, Endpoint]]:
    """Tuneyard (`tuneyard serve`, bearer token) and PostGraphile on the same database, stopped on the way out.

    Tuneyard serves the API alone, as an API replica does (TUNEYARD_SERVE_WORKERS=0): PostGraphile runs no job
    workers, and an idle Tuneyard worker polls its queues (12-18% of a core) on whichever core is free.
    """
    tuneyard, token = start_server(database_url, TUNEYARD_SERVE_WORKERS="0")
    try:
        assert tuneyard.process is not None
        peer = PostGraphile(install, database_url)
        try:
            peer.start()
            assert peer.process is not None
            yield (
                Endpoint("Tuneyard", tuneyard.url, token, tuneyard.process.pid),
                Endpoint("PostGraphile", peer.url, None, peer.process.pid),
            )
        finally:
            peer.stop()
    finally:
        tuneyard.stop()
        shutil.rmtree(tuneyard.env["TUNEYARD_HOME"], ignore_errors=True)  # start_server's scratch home


async def run(args: argparse.Namespace) -> None:
    install = ensure_installed()
    database_url = await ensure_data(args.rows)
    with running_servers(install, database_url) as (tuneyard, peer):
        checked = await check_rows(tuneyard, peer)
        print(checked.summary, flush=True)
        if args.check_only:
            return
        options = Options(args.rounds, args.seconds, args.requests, args.connections)
        cores = pin_apart([tuneyard, peer])
        results = await measure(tuneyard, peer, checked.queries, database_url, options)
    ratios = report.ratio_table(results, tuneyard.name, peer.name)
    absolute = report.absolute_table(results)
    notes = report.facts(install, args.rows, options, results, cores)
    print("\n".join(["", *notes, "", ratios, "", absolute]))
    report.write_section(report.section(ratios, absolute, notes))
    print(f"\nwritten to {report.RESULTS_FILE}")


def main() -> None:
    args = parse_args()
    try:
        asyncio.run(run(args))
    except RowCheckFailed as failure:
        sys.exit(f"bench.peer: stopped before timing anything: {failure}")


if __name__ == "__main__":
    main()
