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
from strawberry.exceptions import ConnectionRejectionError

from tuneyard.core.errors import UnauthenticatedError
from tuneyard.core.graphql.context import Context
from tuneyard.schema import schema
from tuneyard.server import graphiql
from tuneyard.server.edge import Edge, accepts_html, error_response, unauthenticated
from tuneyard.server.websocket import LegacyWSHandler, TransportWSHandler


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
            principal = await self.edge.authenticate(scope)
        except UnauthenticatedError as error:
            # Without a token nothing is executed, whatever the query string says (and however it is
            # encoded): a browser gets GraphiQL, where the user pastes a token; anyone else gets 401.
            await (graphiql.page() if accepts_html(scope) else unauthenticated(error))(scope, receive, send)
            return
        scope.setdefault("state", {})["principal"] = principal
        response: Response
        try:
            response = await self.run(Request(scope, receive))
        except HTTPException as error:  # Strawberry's 400s and 405s: the reason, in GraphQL's shape
            response = error_response(error.status_code, error.reason)
        await response(scope, receive, send)

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
        return orjson.dumps(data)

    def decode_json(self, data: str | bytes) -> object:
        return orjson.loads(data)
