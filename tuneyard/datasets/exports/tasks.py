"""export.run: the EXPORT job that writes a dataset version's files."""

from __future__ import annotations

from tuneyard.datasets.exports.service import EXPORT_JOB, run_export
from tuneyard.jobs.service import job_task

job_task(EXPORT_JOB)(run_export)
