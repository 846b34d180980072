"""What the client raises to its caller."""

from __future__ import annotations


class TuneyardError(Exception):
    """The server refused a request; `code` is its extensions.code (FORBIDDEN, BAD_USER_INPUT...) when it gave one."""

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(f"{code}: {message}" if code else message)
        self.message = message
        self.code = code


class TuneyardUnavailable(TuneyardError):
    """The server cannot be reached (or cannot answer now), and there is no earlier answer to give instead."""
