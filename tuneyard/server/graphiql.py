"""GraphiQL served from this machine: the page is ours, its scripts ship in a pip package, no CDN needed."""

from __future__ import annotations

from importlib import resources

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from tuneyard.server.edge import error_response

_ASSETS_PACKAGE = "graphene_django_graphiql_static"  # in the tuneyard[embedded] extra
_TYPES = {".js": "application/javascript", ".css": "text/css"}
_FILES = {
    "graphiql.min.js", "graphiql.min.css", "react.production.min.js", "react-dom.production.min.js",
    "graphql-ws.min.js",
}  # fmt: skip

PAGE = (resources.files("tuneyard.server") / "static" / "graphiql.html").read_text()


def page() -> HTMLResponse:
    """The GraphiQL page: static HTML; its requests carry the token pasted there, or the dashboard's for this tab."""
    return HTMLResponse(PAGE)


async def asset(request: Request) -> Response:
    """One of the known GraphiQL files, cached by the browser for a day; anything else is 404."""
    name = request.path_params["name"]
    if name not in _FILES:
        return error_response(404, "no such GraphiQL file")
    try:
        folder = resources.files(_ASSETS_PACKAGE) / "static" / _ASSETS_PACKAGE
    except ModuleNotFoundError:
        return error_response(
            404, f"GraphiQL's scripts are not installed: install tuneyard[embedded] ({_ASSETS_PACKAGE})"
        )
    suffix = name[name.rindex(".") :]
    body = (folder / name).read_bytes()
    return Response(body, media_type=_TYPES[suffix], headers={"Cache-Control": "public, max-age=86400"})
