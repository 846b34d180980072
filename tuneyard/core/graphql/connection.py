"""Connection[T]: one keyset page as GraphQL sees it (nodes, edges, pageInfo, totalCount on demand)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

import strawberry

from tuneyard.core.page import Count, Page

T = TypeVar("T")

Counter = Callable[[], Awaitable[int | Count]]


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type
class Edge(Generic[T]):
    cursor: str
    node: T


@strawberry.type
class Connection(Generic[T]):
    """Strawberry names each use after its node type: Connection[Job] is JobConnection, with JobEdge."""

    nodes: list[T]
    page_info: PageInfo
    page: strawberry.Private[Page[Any]]
    count_total: strawberry.Private[Counter]
    counted: strawberry.Private[asyncio.Future[int | Count] | None] = None

    @property
    def cursors(self) -> list[str]:
        return self.page.cursors

    @strawberry.field
    def edges(self) -> list[Edge[T]]:
        return [Edge(cursor=c, node=n) for c, n in zip(self.cursors, self.nodes, strict=True)]

    async def _count(self) -> Count:
        if self.counted is None:  # totalCount and totalCountExact share one count
            self.counted = asyncio.ensure_future(self.count_total())
        found = await self.counted
        return found if isinstance(found, Count) else Count(found)

    @strawberry.field(
        description="Items matching the query; counted only when asked for. An estimate where totalCountExact is false."
    )
    async def total_count(self) -> int:
        return (await self._count()).value

    @strawberry.field(
        description="False where counting every match would take too long (a word search matching very many examples, "
        "say): totalCount is then PostgreSQL's estimate."
    )
    async def total_count_exact(self) -> bool:
        return (await self._count()).exact

    @classmethod
    def of(cls, page: Page[Any], count_total: Counter) -> Connection[T]:
        """The connection over a page whose items Strawberry reads as this connection's node type."""
        return cls(
            nodes=page.items, page_info=PageInfo(has_next_page=page.has_next_page, end_cursor=page.end_cursor),
            page=page, count_total=count_total,
        )  # fmt: skip
