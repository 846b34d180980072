"""Job progress fan-out over WebSocket: subscribers running the same query share one rendering of a change.

One server may have hundreds of subscribers to the same job, and executing and encoding the query for each
of them on every change costs far more than sending it. Each job change reaches this process's subscribers
as ONE `Change` (services.progress); the first subscriber to deliver it for a given query (text, operation
name, variables and role) executes it as usual and leaves the encoded payload on the Change, and every other
subscriber with the same query sends those bytes under its own operation id. The first message of
jobProgress (the job as it is now) is always executed per subscriber.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Awaitable, Callable, Hashable, Mapping
from contextvars import ContextVar
from typing import Any, cast

import orjson
from starlette.websockets import WebSocketDisconnect
from strawberry.asgi import ASGIWebSocketAdapter
from strawberry.http.async_base_view import AsyncWebSocketAdapter
from strawberry.http.exceptions import WebSocketDisconnected
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import BaseGraphQLTransportWSHandler, Operation
from strawberry.subscriptions.protocols.graphql_transport_ws.types import Message
from strawberry.subscriptions.protocols.graphql_ws.handlers import BaseGraphQLWSHandler
from strawberry.subscriptions.protocols.graphql_ws.types import OperationMessage

from tuneyard.resolvers.context import Context
from tuneyard.services.progress import Change

SendFrame = Callable[[bytes], Awaitable[None]]


class Route:
    """How one WebSocket operation sends its results; its task finds it in `_route` (set by the handlers below)."""

    __slots__ = ("_head", "_pending", "_send", "key", "message_type", "op_id")

    def __init__(self, send: SendFrame, op_id: str, message_type: str, key: Hashable | None) -> None:
        self._send = send
        self.op_id = op_id
        self.message_type = message_type  # "next" (graphql-transport-ws) or "data" (graphql-ws)
        self.key = key  # None: never share (variables that cannot be keyed)
        self._head = b'{"id":' + orjson.dumps(op_id) + b',"type":"' + message_type.encode() + b'","payload":'
        self._pending: Change | None = None

    async def send_rendered(self, change: Change) -> bool:
        """Send `change` as another subscriber with the same key rendered it; False if none has yet.

        After False the caller yields the change for normal execution, and `frame` keeps the result on it.
        """
        payload = None if self.key is None else change.rendered.get(self.key)
        if payload is None:
            self._pending = change
            return False
        # A client that is gone: its handler is about to notice and cancel this operation.
        with contextlib.suppress(WebSocketDisconnected):
            await self._send(self._head + payload + b"}")
        return True

    def frame(self, payload: Mapping[str, Any]) -> bytes:
        """This operation's result message; a plain-data result of a pending change is kept on that change."""
        change, self._pending = self._pending, None
        body = orjson.dumps(payload)
        if change is not None and self.key is not None and payload.keys() == {"data"}:
            change.rendered[self.key] = body
        return self._head + body + b"}"


_route: ContextVar[Route | None] = ContextVar("tuneyard_subscription_route", default=None)


async def sent_as_rendered(change: Change) -> bool:
    """True if this change went out as another subscriber's rendering; False: yield it for execution."""
    route = _route.get()
    return route is not None and await route.send_rendered(change)


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


def _encode(message: Mapping[str, Any]) -> bytes:
    route = _route.get()
    if route is not None and message.get("id") == route.op_id and message.get("type") == route.message_type:
        return route.frame(message["payload"])
    return orjson.dumps(message)


class TransportWSHandler(BaseGraphQLTransportWSHandler[Context, None]):
    """graphql-transport-ws, with shared renderings of job changes and orjson-encoded text frames."""

    async def run_operation(self, operation: Operation[Context, None]) -> None:
        key = _share_key(self.context, operation.query, operation.operation_name, operation.variables)
        _route.set(Route(functools.partial(_send_text, self.websocket), operation.id, "next", key))
        await super().run_operation(operation)

    async def send_message(self, message: Message) -> None:
        await _send_text(self.websocket, _encode(cast(Mapping[str, Any], message)))


class LegacyWSHandler(BaseGraphQLWSHandler[Context, None]):
    """The legacy graphql-ws protocol, likewise."""

    async def handle_async_results(
        self, operation_id: str, query: str, operation_name: str | None, variables: dict[str, object] | None
    ) -> None:
        key = _share_key(self.context, query, operation_name, variables)
        _route.set(Route(functools.partial(_send_text, self.websocket), operation_id, "data", key))
        await super().handle_async_results(operation_id, query, operation_name, variables)

    async def send_message(self, message: OperationMessage) -> None:
        await _send_text(self.websocket, _encode(cast(Mapping[str, Any], message)))
