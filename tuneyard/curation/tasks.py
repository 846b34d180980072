"""curation.tag, curation.undo, curation.archive: the CURATION jobs that apply bulk edits of examples chunk by chunk."""

from __future__ import annotations

from tuneyard.curation import bulk
from tuneyard.curation.models import ARCHIVE_JOB, TAG_JOB, UNDO_JOB
from tuneyard.jobs.service import job_task

job_task(TAG_JOB)(bulk.apply_tags)
job_task(UNDO_JOB)(bulk.undo_tags)
job_task(ARCHIVE_JOB)(bulk.archive)
