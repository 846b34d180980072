"""The project's error tree: every expected failure has a code and a clear message."""

from __future__ import annotations


class TuneyardError(Exception):
    """An expected failure that clients see with its message and code."""

    code = "BAD_REQUEST"
    retryable = False  # true when sending the same request again may succeed (clients see extensions.retryable)

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ValidationError(TuneyardError):
    """Input that breaks a rule; the message names the offending field."""

    code = "BAD_USER_INPUT"


class NotFoundError(TuneyardError):
    code = "NOT_FOUND"


class ConflictError(TuneyardError):
    code = "CONFLICT"


class WriteConflictError(ConflictError):
    """Concurrent writes to the same rows kept aborting this one (deadlock or serialization failure) after the
    server's own retries; it was rolled back whole, so sending it again is safe."""

    retryable = True


class UnauthenticatedError(TuneyardError):
    code = "UNAUTHENTICATED"


class ForbiddenError(TuneyardError):
    code = "FORBIDDEN"


class UnavailableError(TuneyardError):
    """A backing service (database, Redis) cannot be reached."""

    code = "UNAVAILABLE"
