"""POST /graphql, served by a lean ASGI handler; every other request goes to the app.

The generic Strawberry view does work per request that a JSON POST does not need (content negotiation,
multipart, batching, sub-responses). This handler keeps what matters: the edge's auth (401) and body cap
(413), clear 400s for a malformed request, the same schema with its extensions (error codes and masking,
caches, limits), and orjson encoding in pieces that leave the event loop free (tuneyard.server.encoding).
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Receive, Scope, Send
from strawberry.exceptions import MissingQueryError
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.types.graphql import OperationType

from tuneyard.core.errors import UnauthenticatedError
from tuneyard.core.graphql.masking import MASKED_MESSAGE
from tuneyard.core.outages import unavailable
from tuneyard.schema import schema
from tuneyard.server.edge import BodyTooLarge, Edge, error_body, header, read_body
from tuneyard.server.encoding import ResponseTooLarge, encode, too_large_body

log = logging.getLogger(__name__)

_HTTP_OPERATIONS = (OperationType.QUERY, OperationType.MUTATION)
Answer = tuple[int, bytes, list[tuple[bytes, bytes]]]  # status, body, extra headers
SEND_BYTES = 256 * 1024
RETRY_AFTER = (b"retry-after", b"1")  # a 503 for an outage: the pool and the Redis clients reconnect by themselves


class BadRequest(Exception):
    """A request that is not one GraphQL operation in JSON; the message says what to send instead."""


class GraphQLPost:
    """The outermost ASGI app: answers every POST /graphql itself and passes anything else to `app`."""

    def __init__(self, app: ASGIApp, edge: Edge) -> None:
        self.app = app
        self.edge = edge

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != "/graphql" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        try:
            status, body, extra = await self._answer(scope, receive)
        except ClientDisconnect:
            return  # nobody is left to answer
        except Exception as error:  # anything unexpected is logged, and the client gets a masked 500
            outage = unavailable(error)  # e.g. authenticating while the database is down: 503, logged once
            if outage is not None:
                errors = [{"message": outage.message, "extensions": {"code": outage.code, "retryable": True}}]
                status, body, extra = 503, orjson.dumps({"errors": errors}), [RETRY_AFTER]
            else:
                log.exception("POST /graphql failed")
                status, body, extra = 500, error_body(MASKED_MESSAGE, "INTERNAL_SERVER_ERROR"), []
        await send({
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *extra],
        })  # fmt: skip
        # A big body goes in slices: handed over at once, the server's write of it would hold the loop (~150 ms for
        # 27 MB), and each slice waits for the client to take the one before (flow control).
        for start in range(0, max(len(body), 1), SEND_BYTES):
            more = start + SEND_BYTES < len(body)
            await send({"type": "http.response.body", "body": body[start : start + SEND_BYTES], "more_body": more})

    async def _answer(self, scope: Scope, receive: Receive) -> Answer:
        try:
            principal = await self.edge.authenticate(scope)
        except UnauthenticatedError as error:
            return 401, error_body(error.message, error.code), [(b"www-authenticate", b"Bearer")]
        try:
            if not header(scope, b"content-type").lower().startswith(b"application/json"):
                raise BadRequest("send the operation as JSON, with 'Content-Type: application/json'")
            raw = await read_body(scope, receive, self.edge.settings.max_body_bytes)
            query, variables, operation_name = _operation(raw)
            result = await schema.execute(
                query,
                variable_values=variables,
                context_value=self.edge.build_context(principal),
                operation_name=operation_name,
                allowed_operation_types=_HTTP_OPERATIONS,
            )
        except BodyTooLarge as error:
            return 413, error_body(error.message, "BODY_TOO_LARGE"), []
        except BadRequest as error:
            return _bad_request(str(error))
        except InvalidOperationTypeError:
            return _bad_request("subscriptions are served over WebSocket at /graphql, not over POST")
        except CannotGetOperationTypeError as error:
            return _bad_request(error.as_http_error_reason())
        except MissingQueryError:
            return _bad_request('the query is empty: send {"query": "..."}')
        response: dict[str, Any] = {"data": result.data}
        if result.errors:
            response["errors"] = [error.formatted for error in result.errors]
        if result.extensions:
            response["extensions"] = result.extensions
        try:
            body = await encode(response, self.edge.settings.max_response_bytes)
        except ResponseTooLarge as error:
            return 200, orjson.dumps(too_large_body(error)), []
        if _failed_for_outage(result.data, response.get("errors")):
            return 503, body, [RETRY_AFTER]
        return 200, body, []


def _operation(raw: bytes) -> tuple[str, dict[str, Any] | None, str | None]:
    """(query, variables, operationName) of a JSON body, or BadRequest naming what is wrong with it."""
    try:
        request = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise BadRequest("the request body is not valid JSON") from None
    if isinstance(request, list):
        raise BadRequest("batches are not supported: send one operation per request")
    if not isinstance(request, dict) or not isinstance(request.get("query"), str):
        raise BadRequest('no GraphQL query found in the request: send {"query": "..."}')
    variables, operation_name = request.get("variables"), request.get("operationName")
    if variables is not None and not isinstance(variables, dict):
        raise BadRequest("variables must be a JSON object (or null)")
    if operation_name is not None and not isinstance(operation_name, str):
        raise BadRequest("operationName must be a string (or null)")
    if not isinstance(request.get("extensions", {}), dict | None):
        raise BadRequest("extensions must be a JSON object (or null)")
    return request["query"], variables, operation_name


def _failed_for_outage(data: dict[str, Any] | None, errors: list[Any] | None) -> bool:
    """True when the whole request failed because the database or Redis is down: every error is UNAVAILABLE
    and no field has data (a partial answer is still a 200)."""
    if not errors or any((e.get("extensions") or {}).get("code") != "UNAVAILABLE" for e in errors):
        return False
    return data is None or all(value is None for value in data.values())


def _bad_request(message: str) -> Answer:
    return 400, error_body(message, "BAD_REQUEST"), []
