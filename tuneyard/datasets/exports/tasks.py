"""export.run: the EXPORT job that writes a dataset version's files."""

from __future__ import annotations

from tuneyard.core.queue import job_actor
from tuneyard.datasets.exports.service import EXPORT_ACTOR, run_export

job_actor(EXPORT_ACTOR)(run_export)
