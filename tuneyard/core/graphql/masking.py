"""Expected errors reach clients with extensions.code (and retryable: true when a retry may succeed); unexpected
ones are logged and masked."""

from __future__ import annotations

import logging
from collections.abc import Iterator

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension

from tuneyard.core.errors import TuneyardError

log = logging.getLogger("tuneyard.core.errors")

MASKED_MESSAGE = "Internal server error; it has been logged."


def present(error: GraphQLError) -> GraphQLError:
    original = error.original_error
    if original is None or error.path is None:  # syntax, validation or variable errors: already clear
        error.extensions = {"code": "GRAPHQL_VALIDATION_FAILED", **(error.extensions or {})}
        return error
    if isinstance(original, TuneyardError):
        error.extensions = {**(error.extensions or {}), "code": original.code}
        if original.retryable:
            error.extensions["retryable"] = True
        return error
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
