"""The Starlette application: /graphql (HTTP and WebSocket), /healthz, and its lifespan."""

from __future__ import annotations

import contextlib
import gc
import logging
from collections.abc import AsyncIterator
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.types import ASGIApp, Receive, Scope, Send
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError

from tuneyard.auth.service import Authenticator
from tuneyard.core.config import Settings
from tuneyard.core.db import create_pool
from tuneyard.core.errors import UnauthenticatedError
from tuneyard.core.graphql.context import Context
from tuneyard.core.redis import async_client
from tuneyard.datasets.exports.service import export_file
from tuneyard.jobs.runtime import serving_jobs
from tuneyard.schema import schema
from tuneyard.server import graphiql
from tuneyard.server.http import GraphQLPost, unauthenticated_body
from tuneyard.server.websocket import LegacyWSHandler, TransportWSHandler

log = logging.getLogger(__name__)


def _unauthenticated(error: UnauthenticatedError) -> Response:
    return Response(unauthenticated_body(error), 401, {"WWW-Authenticate": "Bearer"}, media_type="application/json")


class GraphQLApp(GraphQL[Context, None]):
    """Strawberry's view with bearer-token auth: HTTP checks the header, WebSocket the connection_init payload."""

    # Job progress fan-out: subscribers running the same query share one rendering of each change.
    graphql_transport_ws_handler_class = TransportWSHandler
    graphql_ws_handler_class = LegacyWSHandler

    def __init__(self, state: dict[str, Any]) -> None:
        super().__init__(schema)
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not _is_ide_page(scope):
            authorization = dict(scope["headers"]).get(b"authorization", b"").decode("latin-1")
            try:
                principal = await self.state["authenticator"].authenticate(authorization)
            except UnauthenticatedError as error:
                await _unauthenticated(error)(scope, receive, send)
                return
            scope.setdefault("state", {})["principal"] = principal
        await super().__call__(scope, receive, send)

    async def get_context(self, request: Any, response: Any) -> Context:
        return Context(
            pool=self.state["pool"],
            settings=self.state["settings"],
            principal=request.scope.get("state", {}).get("principal"),
            request=request,
            response=response,
            progress_hub=self.state.get("progress_hub"),
        )

    async def on_ws_connect(self, context: Context) -> None:
        params = context.connection_params if isinstance(context.connection_params, dict) else {}
        authorization = params.get("Authorization") or params.get("authorization")
        if authorization is None and params.get("token"):
            authorization = f"Bearer {params['token']}"
        try:
            context.principal = await self.state["authenticator"].authenticate(authorization)
        except UnauthenticatedError as error:
            raise ConnectionRejectionError({"message": error.message}) from error

    async def render_graphql_ide(self, request: Any) -> Any:
        return graphiql.page()

    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data)

    def decode_json(self, data: str | bytes) -> object:
        return orjson.loads(data)


def _is_ide_page(scope: Scope) -> bool:
    """A browser asking for GraphiQL: GET without a query, accepting HTML. It carries no token."""
    if scope["method"] != "GET" or b"query=" in scope.get("query_string", b""):
        return False
    return b"text/html" in dict(scope["headers"]).get(b"accept", b"")


async def healthz(request: Request) -> JSONResponse:
    state = request.app.state
    report = {"database": "ok", "redis": "ok"}
    try:
        await state.pool.fetchval("SELECT 1", timeout=2)
    except Exception as error:  # health must report any failure, whatever its kind
        report["database"] = f"unreachable: {error}"
    try:
        await state.redis.ping()
    except Exception as error:
        report["redis"] = f"unreachable: {error}"
    healthy = all(v == "ok" for v in report.values())
    return JSONResponse({"status": "ok" if healthy else "degraded", **report}, 200 if healthy else 503)


async def download_export(request: Request, shared: dict[str, Any]) -> Response:
    """GET /exports/{id}: an export file, for any valid bearer token (READER may download)."""
    try:
        await shared["authenticator"].authenticate(request.headers.get("authorization", ""))
    except UnauthenticatedError as error:
        return _unauthenticated(error)
    found = await export_file(shared["pool"], shared["settings"].export_dir, request.path_params["export_id"])
    if found is None:
        return JSONResponse({"error": "no such export"}, 404)
    export, path = found
    headers = {"X-Content-SHA256": export.sha256}
    return FileResponse(path, media_type="application/x-ndjson", filename=path.name, headers=headers)


def create_app(settings: Settings, database_url: str, redis_url: str) -> ASGIApp:
    """The ASGI app for servers already running at these URLs."""
    shared: dict[str, Any] = {"settings": settings}

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        pool = await create_pool(database_url, max_size=settings.db_pool_size)
        redis_client = async_client(redis_url)
        shared.update(pool=pool, redis=redis_client, authenticator=Authenticator(pool, settings.token_cache_seconds))
        app.state.pool, app.state.redis = pool, redis_client
        # Start-up objects live forever: keep them out of every collection, and collect the young
        # generation less often, since a 1,000-example batch allocates tens of thousands of objects.
        gc.freeze()
        gc.set_threshold(50_000, 20, 20)
        try:
            async with serving_jobs(settings, pool, redis_url) as progress_hub:
                shared["progress_hub"] = progress_hub  # the subscriptions' one Redis listener
                yield
        finally:
            await redis_client.aclose()
            await pool.close()

    graphql = GraphQLApp(shared)

    async def download(request: Request) -> Response:
        return await download_export(request, shared)

    app = Starlette(
        routes=[
            Route("/healthz", healthz),
            Route("/graphiql/{name}", graphiql.asset),
            Route("/exports/{export_id}", download, methods=["GET"]),
            Route("/graphql", graphql, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", graphql),
        ],
        lifespan=lifespan,
    )
    return GraphQLPost(app, shared)
