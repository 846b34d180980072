"""examples.import: the IMPORT job that records a JSONL file of examples (on its own queue, "import")."""

from __future__ import annotations

from tuneyard.examples.imports.service import IMPORT_JOB, import_file
from tuneyard.jobs.service import job_task

job_task(IMPORT_JOB)(import_file)
