"""Shared renderings for subscriptions: subscribers running the same query send one rendering of a change.

One server may have hundreds of subscribers to the same stream, and executing and encoding the query for
each of them on every change costs far more than sending it. A change that reaches every local subscriber
as ONE object (a `Shared`) carries a memo: the first subscriber to deliver it for a given query (text,
operation name, variables and role) executes it as usual and leaves the encoded payload there, and every
other subscriber with the same query sends those bytes under its own operation id.

The WebSocket handlers (tuneyard.server.websocket) set each operation's `Route`; a subscription resolver
calls `sent_as_rendered(change)` before yielding a change.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Hashable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

import orjson
from strawberry.http.exceptions import WebSocketDisconnected

SendFrame = Callable[[bytes], Awaitable[None]]


@dataclass(eq=False, slots=True)
class Shared:
    """The memo a shared change carries: its renderings, by subscriber key (query, variables, role)."""

    rendered: dict[Hashable, bytes] = field(default_factory=dict)


class Route:
    """How one WebSocket operation sends its results; its task finds it in `current_route`."""

    __slots__ = ("_head", "_pending", "_send", "ended", "key", "message_type", "op_id")

    def __init__(self, send: SendFrame, op_id: str, message_type: str, key: Hashable | None) -> None:
        self._send = send
        self.op_id = op_id
        self.message_type = message_type  # "next" (graphql-transport-ws) or "data" (graphql-ws)
        self.key = key  # None: never share (variables that cannot be keyed)
        self._head = b'{"id":' + orjson.dumps(op_id) + b',"type":"' + message_type.encode() + b'","payload":'
        self._pending: Shared | None = None
        self.ended = False  # ended with a terminal error message: no `complete` follows it

    async def send_rendered(self, memo: Shared) -> bool:
        """Send the change as another subscriber with the same key rendered it; False if none has yet.

        After False the caller yields the change for normal execution, and `frame` keeps the result in the memo.
        """
        payload = None if self.key is None else memo.rendered.get(self.key)
        if payload is None:
            self._pending = memo
            return False
        # A client that is gone: its handler is about to notice and cancel this operation.
        with contextlib.suppress(WebSocketDisconnected):
            await self._send(self._head + payload + b"}")
        return True

    def frame(self, payload: Mapping[str, Any]) -> bytes:
        """This operation's result message; a plain-data result of a pending change is kept in its memo."""
        memo, self._pending = self._pending, None
        body = orjson.dumps(payload)
        if memo is not None and self.key is not None and payload.keys() == {"data"}:
            memo.rendered[self.key] = body
        return self._head + body + b"}"


current_route: ContextVar[Route | None] = ContextVar("tuneyard_subscription_route", default=None)


async def sent_as_rendered(memo: Shared) -> bool:
    """True if this change went out as another subscriber's rendering; False: yield it for execution."""
    route = current_route.get()
    return route is not None and await route.send_rendered(memo)


def unavailable_end(message: Mapping[str, Any]) -> dict[str, Any] | None:
    """For a `next` whose only content is UNAVAILABLE errors (the stream lost the database or Redis and ends): the
    graphql-transport-ws `error` message to send instead, which ends the operation as a failure. Clients take
    `next` + `complete` for a normal end, and would not know to resubscribe."""
    payload = message.get("payload")
    if message.get("type") != "next" or not isinstance(payload, Mapping) or payload.get("data") is not None:
        return None
    errors = payload.get("errors") or []
    if not errors or any((e.get("extensions") or {}).get("code") != "UNAVAILABLE" for e in errors):
        return None
    return {"id": message["id"], "type": "error", "payload": errors}


def encode(message: Mapping[str, Any]) -> bytes:
    """A protocol message as bytes: this operation's results through its route, anything else as JSON."""
    route = current_route.get()
    if route is not None and message.get("id") == route.op_id and message.get("type") == route.message_type:
        return route.frame(message["payload"])
    return orjson.dumps(message)
