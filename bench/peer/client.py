"""A lean keep-alive HTTP/1.1 GraphQL client: the row checks and the load generator both speak through it.

Each request is encoded once to bytes and sent as is; a response is read as its head (for the status and
Content-Length, which both servers send) and its body. Per request that is a few tens of microseconds of client
CPU, so the load generator stays far below one core while a server saturates its own (the bench reports the
client's share of its core to show it).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import orjson


class GraphQLError(RuntimeError):
    """A request that did not come back as 200 with data and no errors."""


@dataclass(frozen=True)
class Endpoint:
    """A GraphQL server the bench talks to: its name in reports, where it listens, its token, its process."""

    name: str
    url: str  # http://127.0.0.1:PORT
    token: str | None
    pid: int

    @property
    def host(self) -> str:
        return self.url.removeprefix("http://").rsplit(":", 1)[0]

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def request(self, payload: dict[str, Any]) -> bytes:
        """The whole POST /graphql request for this payload, ready to send."""
        body = orjson.dumps(payload)
        auth = f"Authorization: Bearer {self.token}\r\n" if self.token else ""
        head = (
            f"POST /graphql HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n{auth}"
            f"Content-Type: application/json\r\nAccept: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        return head.encode() + body


class Connection:
    """One keep-alive connection to an endpoint; requests on it go one at a time."""

    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def __aenter__(self) -> Connection:
        self.reader, self.writer = await asyncio.open_connection(self.endpoint.host, self.endpoint.port)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.writer is not None:
            self.writer.close()
            await self.writer.wait_closed()

    async def send(self, request: bytes) -> tuple[int, bytes]:
        """The status and body of the response to a request made by Endpoint.request."""
        assert self.reader is not None and self.writer is not None, "use the connection in `async with`"
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        at = head.lower().find(b"\r\ncontent-length:")
        if at < 0:
            raise GraphQLError(f"{self.endpoint.name} answered without a Content-Length: {head!r}")
        length = int(head[at + 17 : head.index(b"\r\n", at + 2)])
        return int(head[9:12]), await self.reader.readexactly(length)

    async def data(self, payload: dict[str, Any]) -> dict[str, Any]:
        """The `data` of a query that must succeed."""
        status, body = await self.send(self.endpoint.request(payload))
        answer = orjson.loads(body)
        if status != 200 or answer.get("errors") or not answer.get("data"):
            raise GraphQLError(f"{self.endpoint.name} answered {status}: {body[:2000]!r}")
        data: dict[str, Any] = answer["data"]
        return data
