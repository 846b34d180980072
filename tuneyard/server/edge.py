"""The one edge every request crosses: who is asking, the context it runs with, its capped body, its errors.

The lean POST path, Strawberry's view (GET and WebSocket) and downloads all authenticate with
`Edge.authenticate`, build contexts with `Edge.build_context`, and answer every failure with a JSON body in
GraphQL's shape: {"errors": [{"message": ..., "extensions": {"code": ...}}]}.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import asyncpg
import orjson
from starlette.requests import ClientDisconnect
from starlette.responses import Response
from starlette.types import Receive, Scope

from tuneyard.auth.service import Authenticator
from tuneyard.core.config import Settings
from tuneyard.core.errors import UnauthenticatedError
from tuneyard.core.graphql.context import Context
from tuneyard.core.principal import Principal

# The code of each status the edge answers itself; GraphQL errors inside a 200 carry their own.
STATUS_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHENTICATED",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    413: "BODY_TOO_LARGE",
    500: "INTERNAL_SERVER_ERROR",
}


class Edge:
    """What every route shares once the app has started: who is asking, and the context a request runs with."""

    pool: asyncpg.Pool
    authenticator: Authenticator
    progress_hub: object | None = None  # the subscriptions' one Redis listener (a tuneyard.jobs ProgressHub)

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    async def authenticate(self, scope: Scope, connection_params: object = None) -> Principal:
        """The caller, from the Authorization header or, over WebSocket, the connection_init payload.

        Raises UnauthenticatedError with the reason when there is no valid bearer token. The principal is kept in
        the scope's state (tuneyard.server.logs logs its name).
        """
        if scope["type"] == "websocket":
            authorization = _payload_authorization(connection_params)
        else:
            authorization = header(scope, b"authorization").decode("latin-1")
        principal = await self.authenticator.authenticate(authorization)
        scope.setdefault("state", {})["principal"] = principal  # who asked, for the access log
        return principal

    def build_context(self, principal: Principal | None, request: Any = None, response: Any = None) -> Context:
        """The context of one operation (for WebSocket: one connection, whose principal comes with connection_init)."""
        return Context(
            pool=self.pool,
            settings=self.settings,
            principal=principal,
            request=request,
            response=response,
            progress_hub=self.progress_hub,
        )


def _payload_authorization(params: object) -> str | None:
    # GraphiQL sends its headers as the payload; other clients send a bare token.
    if not isinstance(params, Mapping):
        return None
    authorization = params.get("Authorization") or params.get("authorization")
    if authorization is None and params.get("token"):
        authorization = f"Bearer {params['token']}"
    return authorization if isinstance(authorization, str) else None


def header(scope: Scope, name: bytes) -> bytes:
    """A request header by its lower-case name (ASGI servers lower-case them); empty when absent."""
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value)
    return b""


def accepts_html(scope: Scope) -> bool:
    return b"text/html" in header(scope, b"accept")


class BodyTooLarge(Exception):
    """The request body is over Settings.max_body_bytes."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"the request body is over the limit of {limit:,} bytes")
        self.message = str(self)


async def read_body(scope: Scope, receive: Receive, limit: int) -> bytes:
    """The whole body, or BodyTooLarge as soon as Content-Length or the bytes received so far pass `limit`."""
    declared = header(scope, b"content-length")
    if declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(limit)
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:  # a chunked body declares no length: count it as it comes
            raise BodyTooLarge(limit)
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def error_body(message: str, code: str) -> bytes:
    return orjson.dumps({"errors": [{"message": message, "extensions": {"code": code}}]})


def error_response(
    status: int, message: str, code: str | None = None, headers: Mapping[str, str] | None = None
) -> Response:
    """An error in GraphQL's shape, with the status's code unless another is given; 401s ask for a Bearer token."""
    extra = {**(headers or {}), **({"WWW-Authenticate": "Bearer"} if status == 401 else {})}
    body = error_body(message, code or STATUS_CODES.get(status, "BAD_REQUEST"))
    return Response(body, status, extra, media_type="application/json")


def unauthenticated(error: UnauthenticatedError) -> Response:
    return error_response(401, error.message, error.code)
