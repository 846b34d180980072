"""The spool: executions waiting for the server, on disk, so that none is lost when the client stops or crashes."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from tuneyard.client import files


@dataclass(slots=True)
class Entry:
    """One recorded execution: its key and its ExampleInput as JSON text."""

    execution_id: str
    body: str
    seq: int = 0  # its number among this client's records (0: read from the spool)
    at: float = 0.0  # when it was recorded (time.monotonic)


@dataclass(slots=True)
class SpoolBatch:
    """The head of the spool, read to be sent: where it `end`s in the file and how many `lines` it takes there."""

    entries: list[Entry]
    end: int
    lines: int


class Spool:
    """pending.jsonl holds one ExampleInput (JSON) a line, appended and fsync'd, oldest first; pending.offset the
    byte offset up to which the server has them (absent: 0). Once it has all, the file is truncated. rejected.jsonl
    keeps what the server refused as bad input, with the error. One client at a time may use a directory."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / "pending.jsonl"
        self.rejected_path = directory / "rejected.jsonl"
        self._offset_path = directory / "pending.offset"
        self._offset = int(self._offset_path.read_text()) if self._offset_path.exists() else 0
        self._size, self.count = self._recover()

    def _recover(self) -> tuple[int, int]:
        """(size, lines waiting) of the file, after cutting off a last line that a crash left half-written."""
        if not self.path.exists():
            return 0, 0
        with self.path.open("r+b") as file:
            size = file.seek(0, os.SEEK_END)
            if self._offset > size:  # the file was replaced by hand: send all of it again (it is safe to)
                self._offset = 0
            file.seek(self._offset)
            end, lines = self._offset, 0
            for line in file:
                if line.endswith(b"\n"):
                    end, lines = end + len(line), lines + 1
            if end < size:
                file.truncate(end)
                os.fsync(file.fileno())
        return end, lines

    def append(self, entries: Sequence[Entry]) -> None:
        if entries:
            data = "".join(entry.body + "\n" for entry in entries).encode()
            files.append(self.path, data)
            self._size += len(data)
            self.count += len(entries)

    def head(self, limit: int) -> SpoolBatch:
        """Up to `limit` executions from the start of the spool, stopping before one whose executionId is already
        among them: a call takes each execution once, and the later one is an update, to be sent after."""
        entries: list[Entry] = []
        seen: set[str] = set()
        end, lines = self._offset, 0
        with self.path.open("rb") as file:
            file.seek(self._offset)
            while len(entries) < limit and end < self._size:
                line = file.readline()
                text = line.decode(errors="replace").rstrip("\n")
                try:
                    execution_id = json.loads(text)["executionId"]
                except (ValueError, KeyError, TypeError) as error:
                    self.reject(text, f"unreadable line in the spool ({error!r})")
                else:
                    if execution_id in seen:
                        break
                    seen.add(execution_id)
                    entries.append(Entry(execution_id, text))
                end, lines = end + len(line), lines + 1
        return SpoolBatch(entries, end, lines)

    def acknowledge(self, batch: SpoolBatch) -> None:
        """The server has every execution of `batch` (or refused it): move the offset past it, or empty the spool."""
        if batch.end < self._size:
            files.replace(self._offset_path, str(batch.end).encode())
            self._offset, self.count = batch.end, self.count - batch.lines
            return
        files.remove(self._offset_path)  # first: a crash between the two makes it re-send all, never skip any
        files.truncate(self.path)
        self._offset = self._size = self.count = 0

    def reject(self, execution: str, error: str) -> None:
        """Keep an execution the server refused as bad input, with why, for a person to fix and record again."""
        try:
            value = json.loads(execution)
        except ValueError:
            value = execution
        line = json.dumps({"at": datetime.now(UTC).isoformat(), "error": error, "execution": value}, ensure_ascii=False)
        files.append(self.rejected_path, (line + "\n").encode())
