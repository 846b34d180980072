"""Strawberry's view, behind the edge: GET /graphql (GraphiQL and queries) and GraphQL over WebSocket.

POST never reaches it (tuneyard.server.http serves every POST /graphql).
"""

from __future__ import annotations

from typing import Any

import orjson
from cross_web import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError, MissingQueryError
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType

from tuneyard.core.errors import UnauthenticatedError
from tuneyard.core.graphql.context import Context
from tuneyard.schema import schema
from tuneyard.server import graphiql
from tuneyard.server.edge import Edge, accepts_html, error_response, unauthenticated
from tuneyard.server.encoding import ResponseTooLarge, too_large_body
from tuneyard.server.websocket import LegacyWSHandler, TransportWSHandler

_GET_OPERATIONS = frozenset({OperationType.QUERY})  # mutations go over POST, subscriptions over WebSocket


class GraphQLApp(GraphQL[Context, None]):
    """GET needs a bearer token (a browser without one gets GraphiQL); WebSocket sends it in connection_init."""

    # Job progress fan-out: subscribers running the same query share one rendering of each change.
    graphql_transport_ws_handler_class = TransportWSHandler
    graphql_ws_handler_class = LegacyWSHandler

    def __init__(self, edge: Edge) -> None:
        super().__init__(schema)
        self.edge = edge

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)  # WebSocket: on_ws_connect authenticates
            return
        try:
            await self.edge.authenticate(scope)  # keeps the principal in the scope, for get_context
        except UnauthenticatedError as error:
            # Without a token nothing is executed, whatever the query string says (and however it is
            # encoded): a browser gets GraphiQL, where the user pastes a token; anyone else gets 401.
            await (graphiql.page() if accepts_html(scope) else unauthenticated(error))(scope, receive, send)
            return
        response: Response
        try:
            response = await self.run(Request(scope, receive))
        except HTTPException as error:  # Strawberry's 400s and 405s: the reason, in GraphQL's shape
            response = error_response(error.status_code, error.reason)
        await response(scope, receive, send)

    async def execute_operation(
        self, request: Any, request_adapter: Any, request_data: Any, context: Context, root_value: Any,
        sub_response: Any,
    ) -> ExecutionResult:  # fmt: skip
        """A query from GET; a subscription is refused with 400 (Strawberry would run it as a query: a masked 500)."""
        try:
            return await self.schema.execute(
                request_data.query,
                variable_values=request_data.variables,
                context_value=context,
                operation_name=request_data.operation_name,
                allowed_operation_types=_GET_OPERATIONS,
                operation_extensions=request_data.extensions,
            )
        except InvalidOperationTypeError as error:
            if error.operation_type == OperationType.SUBSCRIPTION:
                raise HTTPException(400, "subscriptions are served over WebSocket at /graphql, not over GET") from None
            raise HTTPException(400, error.as_http_error_reason("GET")) from None
        except CannotGetOperationTypeError as error:
            raise HTTPException(400, error.as_http_error_reason()) from None
        except MissingQueryError:
            raise HTTPException(400, "No GraphQL query found in the request") from None

    async def get_context(self, request: Any, response: Any) -> Context:
        principal = request.scope.get("state", {}).get("principal")
        return self.edge.build_context(principal, request=request, response=response)

    async def on_ws_connect(self, context: Context) -> None:
        try:
            context.principal = await self.edge.authenticate(context.request.scope, context.connection_params)
        except UnauthenticatedError as error:
            raise ConnectionRejectionError({"message": error.message, "extensions": {"code": error.code}}) from error

    async def render_graphql_ide(self, request: Any) -> Any:
        return graphiql.page()

    def encode_json(self, data: object) -> bytes:
        body = orjson.dumps(data)
        limit = self.edge.settings.max_response_bytes
        return body if len(body) <= limit else orjson.dumps(too_large_body(ResponseTooLarge(limit)))

    def decode_json(self, data: str | bytes) -> object:
        return orjson.loads(data)
