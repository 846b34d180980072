"""The ASGI app: its routes (/graphql over HTTP and WebSocket, /exports, GraphiQL, the dashboard, /healthz), lifespan."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route, WebSocketRoute
from starlette.types import ASGIApp

from tuneyard.auth.service import Authenticator
from tuneyard.core.config import Settings
from tuneyard.core.db import create_pool
from tuneyard.core.graphql.masking import MASKED_MESSAGE
from tuneyard.core.redis import async_client
from tuneyard.jobs.runtime import serving_jobs
from tuneyard.server import graphiql
from tuneyard.server.dashboard.routes import ROUTES as DASHBOARD_ROUTES
from tuneyard.server.downloads import download_export
from tuneyard.server.edge import Edge, error_response
from tuneyard.server.health import Health, healthz
from tuneyard.server.http import GraphQLPost
from tuneyard.server.imports import upload
from tuneyard.server.logs import AccessLog
from tuneyard.server.view import GraphQLApp


async def _http_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, HTTPException)
    return error_response(error.status_code, error.detail, headers=error.headers)


async def _server_error(request: Request, error: Exception) -> Response:
    # Starlette logs the exception after this answer is sent; the client sees only the masked message.
    return error_response(500, MASKED_MESSAGE)


# Every error this app answers itself (routing's 404 and 405, a bug's 500) is JSON in GraphQL's shape.
EXCEPTION_HANDLERS = {HTTPException: _http_error, Exception: _server_error}


def create_app(settings: Settings, database_url: str, redis_url: str) -> ASGIApp:
    """The ASGI app for servers already running at these URLs."""
    edge = Edge(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        pool = await create_pool(database_url, max_size=settings.db_pool_size)
        redis_client = async_client(redis_url)
        edge.pool, edge.authenticator = pool, Authenticator(pool, settings.token_cache_seconds)
        app.state.pool, app.state.redis = pool, redis_client
        app.state.health = Health(database_url, redis_client)
        app.state.health.start()
        # Start-up objects live forever: keep them out of every collection, and collect the young
        # generation less often, since a 1,000-example batch allocates tens of thousands of objects.
        gc.freeze()
        gc.set_threshold(50_000, 20, 20)
        try:
            async with serving_jobs(settings, pool, redis_url) as progress_hub:
                edge.progress_hub = progress_hub  # the subscriptions' one Redis listener
                yield
        finally:
            await app.state.health.close()
            await redis_client.aclose()
            await pool.close()

    graphql = GraphQLApp(edge)

    async def download(request: Request) -> Response:
        return await download_export(request, edge)

    async def import_upload(request: Request) -> Response:
        return await upload(request, edge)

    app = Starlette(
        routes=[
            Route("/healthz", healthz),
            Route("/graphiql/{name}", graphiql.asset),
            Route("/exports/{export_id}", download, methods=["GET"]),
            Route("/import", import_upload, methods=["POST"]),  # a JSONL file of examples (tuneyard.server.imports)
            Route("/graphql", graphql, methods=["GET"]),  # POST: the lean path in front (tuneyard.server.http)
            WebSocketRoute("/graphql", graphql),
            *DASHBOARD_ROUTES,  # GET / and /dashboard/...
        ],
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=lifespan,
    )
    served = GraphQLPost(app, edge)
    return AccessLog(served) if settings.access_log else served
