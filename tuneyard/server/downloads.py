"""GET /exports/{id}: an export file, for any valid bearer token (READER may download), from any replica.

On local disk the file is sent from this host's disk. In object storage (TUNEYARD_STORAGE_URL) every replica
serves every export: by a 307 redirect to a presigned GET URL (TUNEYARD_STORAGE_DOWNLOADS=redirect, the default; the
client fetches the bytes from the store, so they never pass through the replica) or streamed through (stream).
"""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response, StreamingResponse

from tuneyard.core.errors import UnauthenticatedError, ValidationError
from tuneyard.core.ids import parse_id
from tuneyard.core.storage import StorageError
from tuneyard.datasets.exports.service import MEDIA_TYPE, export_download, export_store
from tuneyard.server.edge import Edge, error_response, unauthenticated

log = logging.getLogger(__name__)


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
    try:
        found = await export_download(edge.pool, export_store(edge.settings), export_id)
    except StorageError as error:  # the operator reads where and why in the log; a client only that it may retry
        log.error("download of export %s: %s", export_id, error.message)
        return error_response(503, "the export's file storage cannot be reached now; try again", error.code)
    if found is None:
        return error_response(404, "no such export")
    export, download = found
    headers = {"X-Content-SHA256": export.sha256}
    if download.path is not None:
        return FileResponse(download.path, media_type=MEDIA_TYPE, filename=export.file_name, headers=headers)
    if download.url is not None:
        return RedirectResponse(download.url, 307, headers={**headers, "Cache-Control": "no-store"})
    assert download.chunks is not None
    headers |= {
        "Content-Length": str(download.size),
        "Content-Disposition": f'attachment; filename="{export.file_name}"',
    }
    return StreamingResponse(download.chunks, media_type=MEDIA_TYPE, headers=headers)
