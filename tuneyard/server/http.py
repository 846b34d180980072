"""POST /graphql with a JSON body, served by a lean ASGI handler; every other request goes to the app.

The generic Strawberry view does work per request that a JSON POST does not need (content negotiation,
multipart, batching, sub-responses). This handler keeps what matters: bearer-token auth (401), the
same schema with its extensions (error codes and masking, caches, limits), and orjson encoding.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from starlette.types import ASGIApp, Receive, Scope, Send
from strawberry.schema.exceptions import InvalidOperationTypeError
from strawberry.types.graphql import OperationType

from tuneyard.core.errors import UnauthenticatedError
from tuneyard.core.graphql.context import Context
from tuneyard.schema import schema

log = logging.getLogger(__name__)

_HTTP_OPERATIONS = (OperationType.QUERY, OperationType.MUTATION)


class GraphQLPost:
    def __init__(self, app: ASGIApp, state: dict[str, Any]) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != "/graphql" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        if not headers.get(b"content-type", b"").startswith(b"application/json"):
            await self.app(scope, receive, send)  # multipart and other bodies: the full view
            return
        try:
            status, body, extra = await self._handle(headers, receive)
        except Exception:  # anything unexpected is logged, and the client gets a plain 500
            log.exception("POST /graphql failed")
            status, body, extra = 500, orjson.dumps({"errors": [{"message": "Internal server error"}]}), []
        await send({
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *extra],
        })  # fmt: skip
        await send({"type": "http.response.body", "body": body})

    async def _handle(self, headers: dict[bytes, bytes], receive: Receive) -> tuple[int, bytes, list[Any]]:
        try:
            principal = await self.state["authenticator"].authenticate(
                headers.get(b"authorization", b"").decode("latin-1")
            )
        except UnauthenticatedError as error:
            return 401, unauthenticated_body(error), [(b"www-authenticate", b"Bearer")]
        raw = await _read_body(receive)
        try:
            request = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return _bad_request("the request body is not valid JSON")
        if not isinstance(request, dict) or not isinstance(request.get("query"), str):
            return _bad_request('no GraphQL query found in the request: send {"query": "..."}')
        variables = request.get("variables")
        if variables is not None and not isinstance(variables, dict):
            return _bad_request("variables must be a JSON object")
        context = Context(pool=self.state["pool"], settings=self.state["settings"], principal=principal)
        try:
            result = await schema.execute(
                request["query"],
                variable_values=variables,
                context_value=context,
                operation_name=request.get("operationName"),
                allowed_operation_types=_HTTP_OPERATIONS,
            )
        except InvalidOperationTypeError:
            return _bad_request("subscriptions are served over WebSocket at /graphql, not over POST")
        response: dict[str, Any] = {"data": result.data}
        if result.errors:
            response["errors"] = [error.formatted for error in result.errors]
        if result.extensions:
            response["extensions"] = result.extensions
        return 200, orjson.dumps(response), []


def unauthenticated_body(error: UnauthenticatedError) -> bytes:
    """The body of every 401 (GraphQL over HTTP, downloads): the reason, with code UNAUTHENTICATED."""
    return orjson.dumps({"errors": [{"message": error.message, "extensions": {"code": error.code}}]})


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def _bad_request(message: str) -> tuple[int, bytes, list[Any]]:
    return 400, orjson.dumps({"errors": [{"message": message}]}), []
