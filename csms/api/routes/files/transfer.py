"""What chargers fetch and send over HTTP(S): firmware downloads and log uploads.

Chargers hold no API token, so these routes take none: the URL's random token is the
credential (a firmware file's download token; a log request's upload token, valid until
the request expires). They are plain Starlette routes, outside the operator API's schema
and its role policy.

Uploads: ``PUT`` or ``POST`` to ``/uploads/<token>`` (or ``/uploads/<token>/<name>``, as
chargers that append the file name send it), with the file as the raw body or as the file
part of a ``multipart/form-data`` body; at most ``files.upload_max_bytes`` (more: 413,
nothing kept). 201 when stored.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Final

import structlog
from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response
from starlette.routing import Route

from csms.app import Csms
from csms.services.files.logs import UnknownUpload
from csms.services.files.vault import Corrupt, TooLarge, one_chunk

log = structlog.get_logger(__name__)
_BOUNDARY: Final = re.compile(r'boundary="?([^";]+)"?', re.IGNORECASE)
_FILENAME: Final = re.compile(rb'filename="([^"]*)"', re.IGNORECASE)


def _csms(request: Request) -> Csms:
    csms: Csms = request.app.state.csms
    return csms


async def download_firmware(request: Request) -> Response:
    csms = _csms(request)
    assert csms.firmware is not None
    try:
        found = await csms.firmware.file_path(request.path_params["token"])
    except (Corrupt, OSError) as exc:
        log.error("firmware.file_unreadable", error=str(exc))
        return PlainTextResponse("file unreadable", 500)
    if found is None:
        return PlainTextResponse("not found", 404)
    file, path = found
    log.info("firmware.download", file_id=file.id, client=_client(request))
    return FileResponse(path, media_type="application/octet-stream",
                        headers={"X-Content-SHA256": file.sha256})


async def upload_log(request: Request) -> Response:
    csms = _csms(request)
    assert csms.logs is not None
    limit = csms.settings.files.upload_max_bytes
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit * 2:
        return PlainTextResponse("too large", 413)  # multipart framing aside, hopeless
    content_type = request.headers.get("content-type", "")
    name: str | None = request.path_params.get("name")
    try:
        if content_type.lower().startswith("multipart/form-data"):
            body = await _read(request, limit * 2)
            data, part_name, part_type = _file_part(body, content_type)
            chunks = one_chunk(data)
            name, content_type = name or part_name, part_type or "application/octet-stream"
        else:
            chunks = _stream(request)
        stored = await csms.logs.receive(request.path_params["token"], chunks, name,
                                         content_type or None)
    except UnknownUpload:
        return PlainTextResponse("not found", 404)
    except TooLarge:
        return PlainTextResponse("too large", 413)
    except ValueError as exc:
        return PlainTextResponse(f"bad upload: {exc}", 400)
    log.info("logs.upload", request_id=stored.id, client=_client(request))
    return PlainTextResponse("stored", 201)


async def _stream(request: Request) -> AsyncIterator[bytes]:
    async for chunk in request.stream():
        if chunk:
            yield chunk


async def _read(request: Request, limit: int) -> bytes:
    parts, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise TooLarge(f"more than {limit} bytes")
        parts.append(chunk)
    return b"".join(parts)


def _file_part(body: bytes, content_type: str) -> tuple[bytes, str | None, str | None]:
    """(content, file name, content type) of the first part with a file name, else of the
    first part. Raises ValueError for a body that is not multipart."""
    found = _BOUNDARY.search(content_type)
    if found is None:
        raise ValueError("multipart without a boundary")
    delimiter = b"--" + found.group(1).encode("latin-1")
    chosen: tuple[bytes, str | None, str | None] | None = None
    for raw in body.split(delimiter)[1:]:
        if raw.startswith(b"--"):
            break  # the closing delimiter
        head, sep, content = raw.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        if not sep:
            continue
        content = content.removesuffix(b"\r\n")
        name = _FILENAME.search(head)
        part_type = next((line.split(b":", 1)[1].strip().decode("latin-1")
                          for line in head.split(b"\r\n")
                          if line.lower().startswith(b"content-type:")), None)
        part = (content, None if name is None else name.group(1).decode("utf-8", "replace"),
                part_type)
        if name is not None:
            return part
        chosen = chosen or part
    if chosen is None:
        raise ValueError("multipart body without a part")
    return chosen


def _client(request: Request) -> str | None:
    return None if request.client is None else request.client.host


router = APIRouter()
router.routes.extend([
    Route("/firmware/download/{token}/{name}", download_firmware, methods=["GET"]),
    Route("/uploads/{token}", upload_log, methods=["PUT", "POST"]),
    Route("/uploads/{token}/{name}", upload_log, methods=["PUT", "POST"]),
])
