"""benchmark.run: the BENCHMARK job that asks each model the validation requests of a dataset version."""

from __future__ import annotations

from tuneyard.jobs.service import job_task
from tuneyard.registry.benchmarks import BENCHMARK_JOB, run_benchmark

job_task(BENCHMARK_JOB)(run_benchmark)
