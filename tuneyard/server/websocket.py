"""GraphQL over WebSocket (both protocols): text frames encoded with orjson, and shared renderings.

Each operation gets a `Route` (tuneyard.core.graphql.fanout), so subscribers running the same query send
one rendering of each job change. The first message of jobProgress (the job as it is now) is always
executed per subscriber.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Hashable, Mapping
from typing import Any, cast

import orjson
from starlette.websockets import WebSocketDisconnect
from strawberry.asgi import ASGIWebSocketAdapter
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http.async_base_view import AsyncWebSocketAdapter
from strawberry.http.exceptions import WebSocketDisconnected
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import BaseGraphQLTransportWSHandler, Operation
from strawberry.subscriptions.protocols.graphql_transport_ws.types import Message
from strawberry.subscriptions.protocols.graphql_ws.handlers import BaseGraphQLWSHandler
from strawberry.subscriptions.protocols.graphql_ws.types import ConnectionInitMessage, OperationMessage

from tuneyard.core.graphql.context import Context
from tuneyard.core.graphql.fanout import Route, current_route, encode, unavailable_end


def _share_key(context: Context, query: str, operation_name: str | None, variables: object) -> Hashable | None:
    # What the result may depend on: the document, its variables and (should a field ever check it) the role.
    role = context.principal.role if context.principal is not None else None
    try:
        return (query, operation_name, orjson.dumps(variables, option=orjson.OPT_SORT_KEYS), role)
    except TypeError:
        return None


async def _send_text(websocket: AsyncWebSocketAdapter, frame: bytes) -> None:
    # Text frames: both protocols speak JSON text, and browser clients cannot parse binary frames.
    try:
        await cast(ASGIWebSocketAdapter, websocket).ws.send_text(frame.decode())
    except WebSocketDisconnect as error:
        raise WebSocketDisconnected from error


class TransportWSHandler(BaseGraphQLTransportWSHandler[Context, None]):
    """graphql-transport-ws, with shared renderings of job changes and orjson-encoded text frames."""

    async def run_operation(self, operation: Operation[Context, None]) -> None:
        key = _share_key(self.context, operation.query, operation.operation_name, operation.variables)
        current_route.set(Route(functools.partial(_send_text, self.websocket), operation.id, "next", key))
        await super().run_operation(operation)

    async def send_message(self, message: Message) -> None:
        route = current_route.get()
        if route is not None and message.get("id") == route.op_id:
            if route.ended and message["type"] == "complete":
                return  # the operation already ended with `error`
            if (end := unavailable_end(cast(Mapping[str, Any], message))) is not None:
                route.ended = True
                await _send_text(self.websocket, orjson.dumps(end))
                return
        await _send_text(self.websocket, encode(cast(Mapping[str, Any], message)))


class LegacyWSHandler(BaseGraphQLWSHandler[Context, None]):
    """The legacy graphql-ws protocol, likewise; a refused connection_init closes with a code that says why."""

    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        # Strawberry closes a rejected connection with 1011 (a server error) and a payload that is not an object
        # with 1000 (all is well); clients should see what graphql-transport-ws would tell them: 4400 and 4403.
        payload = message.get("payload")
        if payload is not None and not isinstance(payload, dict):
            error = {"message": "the connection_init payload must be an object", "extensions": {"code": "BAD_REQUEST"}}
            await self.send_message({"type": "connection_error", "payload": error})
            await self.websocket.close(code=4400, reason="Invalid connection init payload")
            return
        self.context.connection_params = payload
        try:
            await self.view.on_ws_connect(self.context)
        except ConnectionRejectionError as rejected:
            await self.send_message({"type": "connection_error", "payload": rejected.payload})
            await self.websocket.close(code=4403, reason="Forbidden")
            return
        await self.send_message({"type": "connection_ack"})
        self.connection_acknowledged = True
        if self.keep_alive:
            self.keep_alive_task = asyncio.create_task(self.handle_keep_alive())

    async def handle_async_results(
        self, operation_id: str, query: str, operation_name: str | None, variables: dict[str, object] | None
    ) -> None:
        key = _share_key(self.context, query, operation_name, variables)
        current_route.set(Route(functools.partial(_send_text, self.websocket), operation_id, "data", key))
        await super().handle_async_results(operation_id, query, operation_name, variables)

    async def send_message(self, message: OperationMessage) -> None:
        await _send_text(self.websocket, encode(cast(Mapping[str, Any], message)))
