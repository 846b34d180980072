"""The access log (one line per request: method, path, status, duration, token name; never the token or the
query string) and the log output of `tuneyard serve`: text, or one JSON object per line, written out in blocks."""

from __future__ import annotations

import io
import logging
import sys
import threading
import time
from datetime import UTC, datetime
from typing import Any

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

access_log = logging.getLogger("tuneyard.access")

FORMATS = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# The fields an access line carries besides its message, for JSON logs.
ACCESS_FIELDS = ("method", "path", "status", "duration_ms", "token")


class AccessLog:
    """ASGI middleware: logs every HTTP request and WebSocket connection once it has been answered (or closed).

    The token's name comes from the principal the edge put in the scope (tuneyard.server.edge); a request without
    a valid token is logged with "-". The path is logged without its query string, which may carry a query.
    Healthy /healthz answers are not logged.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 0  # 0: no answer was sent (the client left first)

        async def sending(message: Message) -> None:
            nonlocal status
            kind = message["type"]
            if kind == "http.response.start":
                status = message["status"]
            elif kind == "websocket.accept":
                status = 101
            elif kind == "websocket.close" and status == 0:
                status = 403  # closed before it was accepted: refused
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            if scope["path"] != "/healthz" or status != 200:  # a load balancer's polls would drown everything else
                self._log(scope, status, started)

    @staticmethod
    def _log(scope: Scope, status: int, started: float) -> None:
        principal = scope.get("state", {}).get("principal")
        fields = {
            "method": scope.get("method", "WS"),
            "path": scope["path"],
            "status": status,
            "duration_ms": round((time.perf_counter() - started) * 1000, 1),
            "token": getattr(principal, "name", None) or "-",
        }
        access_log.info("%s %s %s %.1fms token=%s", *(fields[name] for name in ACCESS_FIELDS), extra={"access": fields})


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the access fields, and the traceback if any."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        line.update(getattr(record, "access", None) or {})
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(line, default=str).decode()


def use_log_format(name: str) -> None:
    """Format every handler of the root logger as `name` says ("text" or "json")."""
    if name not in FORMATS:
        raise ValueError(f"log format must be one of {', '.join(FORMATS)}, got {name!r}")
    formatter = JsonFormatter() if name == "json" else logging.Formatter(TEXT_FORMAT)
    for handler in logging.getLogger().handlers:
        handler.setFormatter(formatter)


FLUSH_SECONDS = 0.2


class BufferedHandler(logging.StreamHandler):
    """Log lines into a block-buffered stream, written out every FLUSH_SECONDS by a background thread: a busy server
    makes one write per interval instead of one system call per request and line. A warning or an error is written
    at once; what is buffered is written at exit."""

    def __init__(self, stream: io.TextIOBase) -> None:
        super().__init__(stream)
        threading.Thread(target=self._flush_every_interval, name="log flush", daemon=True).start()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.stream.write(self.format(record) + self.terminator)
            if record.levelno >= logging.WARNING:
                self.flush()
        except RecursionError:
            raise
        except Exception:
            self.handleError(record)

    def _flush_every_interval(self) -> None:
        while True:
            time.sleep(FLUSH_SECONDS)
            self.flush()


def buffer_log_output() -> None:
    """Log to standard error through a BufferedHandler (Python writes sys.stderr a line at a time), keeping the
    root logger's format."""
    stream = io.TextIOWrapper(
        io.BufferedWriter(io.FileIO(sys.stderr.fileno(), "w", closefd=False), 64 * 1024),
        encoding="utf-8", errors="backslashreplace",
    )  # fmt: skip
    root = logging.getLogger()
    for handler in list(root.handlers):
        if isinstance(handler, logging.StreamHandler) and handler.stream is sys.stderr:
            buffered = BufferedHandler(stream)
            buffered.setFormatter(handler.formatter)
            buffered.setLevel(handler.level)
            root.removeHandler(handler)
            root.addHandler(buffered)
