"""GET /exports/{id}: an export file, for any valid bearer token (READER may download)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import FileResponse, Response

from tuneyard.core.errors import UnauthenticatedError, ValidationError
from tuneyard.core.ids import parse_id
from tuneyard.datasets.exports.service import export_file
from tuneyard.server.edge import Edge, error_response, unauthenticated


async def download_export(request: Request, edge: Edge) -> Response:
    """The file of a finished export; 400 for an id that cannot be one (not a whole number in 1..2^63-1)."""
    try:
        await edge.authenticate(request.scope)
    except UnauthenticatedError as error:
        return unauthenticated(error)
    export_id = request.path_params["export_id"]
    try:
        parse_id(export_id, "export", "the path's export id")
    except ValidationError as error:
        return error_response(400, error.message, error.code)
    found = await export_file(edge.pool, edge.settings.export_dir, export_id)
    if found is None:
        return error_response(404, "no such export")
    export, path = found
    headers = {"X-Content-SHA256": export.sha256}
    return FileResponse(path, media_type="application/x-ndjson", filename=path.name, headers=headers)
