"""Stand-ins for providers' HTTP APIs: real servers on 127.0.0.1 that the real SDKs talk to, for the calls Tuneyard
makes, checking what they receive. Each runs a Starlette app under uvicorn in a thread of the test process, so
worker and server processes reach it by its URL."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import uvicorn

from tests.support import free_port


class StandIn:
    """An ASGI app served on a free port of 127.0.0.1 until stop()."""

    def __init__(self, app: Any) -> None:
        self.port = free_port()
        self._server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off")
        )
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _serve(self) -> None:
        asyncio.run(self._server.serve())

    def start(self) -> None:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            assert time.monotonic() < deadline, "stand-in did not start"
            time.sleep(0.01)

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(10)
