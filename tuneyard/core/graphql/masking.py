"""Expected errors reach clients with extensions.code (and retryable: true when a retry may succeed); a lost
database or Redis connection is UNAVAILABLE (logged once per outage, tuneyard.core.outages); unexpected ones
are logged and masked."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import asyncpg
from graphql import GraphQLError
from strawberry.extensions import SchemaExtension

from tuneyard.core.errors import TuneyardError
from tuneyard.core.outages import unavailable

log = logging.getLogger("tuneyard.core.errors")

MASKED_MESSAGE = "Internal server error; it has been logged."
# PostgreSQL refuses U+0000 in text and JSON. Inputs are checked for it field by field; this is the net under a
# string argument no check covers yet: the statement failed, so nothing of it was written.
_NUL_REFUSED = (asyncpg.CharacterNotInRepertoireError, asyncpg.UntranslatableCharacterError)
NUL_MESSAGE = "a text argument contains the NUL character (U+0000), which cannot be stored; nothing was written"


def present(error: GraphQLError) -> GraphQLError:
    original = error.original_error
    if original is None or error.path is None:  # syntax, validation or variable errors: already clear
        error.extensions = {"code": "GRAPHQL_VALIDATION_FAILED", **(error.extensions or {})}
        return error
    outage = unavailable(original)
    if outage is not None and outage is not original:
        return GraphQLError(
            outage.message, nodes=error.nodes, path=error.path, extensions={"code": outage.code, "retryable": True}
        )
    if isinstance(original, TuneyardError):
        error.extensions = {**(error.extensions or {}), "code": original.code}
        if original.retryable:
            error.extensions["retryable"] = True
        return error
    if isinstance(original, _NUL_REFUSED):
        return GraphQLError(NUL_MESSAGE, nodes=error.nodes, path=error.path, extensions={"code": "BAD_USER_INPUT"})
    log.error("unexpected error in %s", error.path, exc_info=original)
    return GraphQLError(
        MASKED_MESSAGE, nodes=error.nodes, path=error.path, extensions={"code": "INTERNAL_SERVER_ERROR"}
    )


class ErrorCodes(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        if result is not None and result.errors:
            result.errors = [present(e) for e in result.errors]
