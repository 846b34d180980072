"""GET / (the dashboard's page) and GET /dashboard/{static|vendor}/... (its scripts and styles), from the package.

Every file ships inside the Python package, so the dashboard needs no network at run time. Files are listed once at
import: anything else is 404, and no request path reaches the file system.
"""

from __future__ import annotations

import hashlib
from importlib import resources
from importlib.resources.abc import Traversable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from tuneyard.server.edge import error_response

_ROOT = resources.files("tuneyard.server.dashboard")
_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".svg": "image/svg+xml",
}
# The app's own files change with each release: the browser revalidates them (a 304 when unchanged). Vendored
# files change only when refresh.sh pins new versions: a day in the cache.
_CACHING = {"static": "no-cache", "vendor": "public, max-age=86400"}


class Asset:
    """One servable file: its bytes, type, ETag and caching policy."""

    def __init__(self, body: bytes, media_type: str, cache_control: str) -> None:
        self.body = body
        self.media_type = media_type
        self.cache_control = cache_control
        self.etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'

    def response(self, request: Request) -> Response:
        """The file, or 304 when the browser's copy is current."""
        headers = {"ETag": self.etag, "Cache-Control": self.cache_control, "X-Content-Type-Options": "nosniff"}
        if self.etag in request.headers.get("if-none-match", ""):
            return Response(status_code=304, headers=headers)
        return Response(self.body, media_type=self.media_type, headers=headers)


def _walk(folder: Traversable, prefix: str) -> dict[str, Traversable]:
    """Every file under `folder` with a servable suffix, by its path relative to the dashboard folder."""
    found: dict[str, Traversable] = {}
    for entry in folder.iterdir():
        path = f"{prefix}/{entry.name}"
        if entry.is_dir():
            found.update(_walk(entry, path))
        elif entry.name[entry.name.rfind(".") :] in _TYPES:
            found[path] = entry
    return found


def _assets() -> dict[str, Asset]:
    """Every servable file, read once: the app's (static/) and the vendored libraries (vendor/)."""
    assets = {}
    for area, cache_control in _CACHING.items():
        for path, entry in _walk(_ROOT / area, area).items():
            media_type = _TYPES[path[path.rfind(".") :]]
            assets[path] = Asset(entry.read_bytes(), media_type, cache_control)
    return assets


ASSETS = _assets()
INDEX = ASSETS["static/index.html"]


async def index(request: Request) -> Response:
    """The dashboard's page; it asks for a token itself, so it is served to anyone."""
    return INDEX.response(request)


async def asset(request: Request) -> Response:
    """One of the dashboard's files; anything else is 404."""
    found = ASSETS.get(request.path_params["path"])
    if found is None:
        return error_response(404, "no such dashboard file")
    return found.response(request)


ROUTES: list[BaseRoute] = [
    Route("/", index, methods=["GET", "HEAD"]),
    Route("/dashboard/{path:path}", asset, methods=["GET", "HEAD"]),
]
