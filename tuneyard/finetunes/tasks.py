"""finetune.run: the FINE_TUNE job that follows a provider's fine-tuning job to a registered model."""

from __future__ import annotations

from tuneyard.finetunes.service import FINE_TUNE_JOB, run_fine_tune
from tuneyard.jobs.service import job_task

job_task(FINE_TUNE_JOB)(run_fine_tune)
