"""export.run: the EXPORT job that writes a dataset version's files."""

from __future__ import annotations

from tuneyard.services.exports import EXPORT_ACTOR, run_export
from tuneyard.workers.broker import job_actor

job_actor(EXPORT_ACTOR)(run_export)
