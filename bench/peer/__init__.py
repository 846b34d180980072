"""Tuneyard beside PostGraphile 5 on the same database: the same rows checked, then CPU, throughput and latency.

PostGraphile is the peer that Tuneyard's performance targets are set against. Run it with `python -m bench.peer`
(see __main__); the parts:

- install: Node 22, PostGraphile and the connection-filter plugin from npm, cached outside the repository
- graphile.config.mjs, postgraphile: the peer's configuration and its process
- queries, rowcheck: the measured queries as each server spells them, and the check that both answer them alike
- client, load, proc, database_cpu: the HTTP load generator, and the CPU that server, PostgreSQL and client use
- measure, report: interleaved rounds, the ratio tables and bench/RESULTS.md
"""
