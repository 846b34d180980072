"""examples.check: the MAINTENANCE job that checks (and optionally repairs) the examples."""

from __future__ import annotations

from tuneyard.jobs.service import job_task
from tuneyard.maintenance.service import CHECK_JOB, check_examples

job_task(CHECK_JOB)(check_examples)
