"""examples.check: the MAINTENANCE job that checks (and optionally repairs) the examples."""

from __future__ import annotations

from tuneyard.core.queue import job_actor
from tuneyard.maintenance.service import CHECK_ACTOR, check_examples

job_actor(CHECK_ACTOR)(check_examples)
