"""GraphiQL served from this machine: the page is ours, its scripts ship in a pip package, no CDN needed."""

from __future__ import annotations

from importlib import resources

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

_ASSETS = resources.files("graphene_django_graphiql_static") / "static" / "graphene_django_graphiql_static"
_TYPES = {".js": "application/javascript", ".css": "text/css"}
_FILES = {
    "graphiql.min.js", "graphiql.min.css", "react.production.min.js", "react-dom.production.min.js",
    "graphql-ws.min.js",
}  # fmt: skip

PAGE = (resources.files("tuneyard.server") / "static" / "graphiql.html").read_text()


def page() -> HTMLResponse:
    return HTMLResponse(PAGE)


async def asset(request: Request) -> Response:
    """One of the known GraphiQL files, cached by the browser for a day; anything else is 404."""
    name = request.path_params["name"]
    if name not in _FILES:
        return Response("not found", 404, media_type="text/plain")
    suffix = name[name.rindex(".") :]
    body = (_ASSETS / name).read_bytes()
    return Response(body, media_type=_TYPES[suffix], headers={"Cache-Control": "public, max-age=86400"})
