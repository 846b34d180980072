"""The orchestrator's client for Tuneyard: record each execution without waiting, losing none while the server is
away, and read the active model with its fallbacks. Needs only httpx and the standard library; it imports nothing
else of tuneyard, so that an orchestrator can use it beside its own code.

    with TuneyardClient("http://tuneyard:8000", token, spool_dir="/var/lib/orchestrator/tuneyard") as tuneyard:
        tuneyard.record(Execution(execution_id="run-1", user_request="...", model_id="ft:..."))
"""

from tuneyard.client.active_model import ActiveModel, ModelRef
from tuneyard.client.aio import AsyncTuneyardClient
from tuneyard.client.errors import TuneyardError, TuneyardUnavailable
from tuneyard.client.execution import Execution
from tuneyard.client.sender import DeliveryStats
from tuneyard.client.sync import TuneyardClient

__all__ = [
    "ActiveModel",
    "AsyncTuneyardClient",
    "DeliveryStats",
    "Execution",
    "ModelRef",
    "TuneyardClient",
    "TuneyardError",
    "TuneyardUnavailable",
]
