"""examples.check: the MAINTENANCE job that checks (and optionally repairs) the examples."""

from __future__ import annotations

from tuneyard.services.maintenance import CHECK_ACTOR, check_examples
from tuneyard.workers.broker import job_actor

job_actor(CHECK_ACTOR)(check_examples)
