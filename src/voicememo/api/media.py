"""Serving a stored blob over HTTP: a file response when the store has a path, else a stream from
the store (never the whole file in memory), with the same headers and single-range support, or a
redirect to a presigned URL on the store when that is enabled.

Multiple ranges in one request are answered with the whole blob (RFC 9110 lets a server ignore
Range); the SDKs and players ask for one range at a time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote

from fastapi import Request, Response
from fastapi.responses import FileResponse, RedirectResponse, StreamingResponse

from voicememo.storage.blobs import BlobStore

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


@dataclass(frozen=True)
class Served:
    """What to serve: a blob's key and how to describe it."""

    key: str
    size: int
    filename: str
    media_type: str
    headers: dict[str, str]


async def serve_blob(request: Request, blobs: BlobStore, blob: Served, *, presign_ttl: int | None) -> Response:
    """Raises ``FileNotFoundError`` when the blob is gone (the caller answers 404)."""
    path = blobs.local_path(blob.key)
    if path is not None:
        return FileResponse(
            path,
            media_type=blob.media_type,
            headers=blob.headers,
            filename=blob.filename,
            content_disposition_type="inline",
        )
    if presign_ttl is not None and request.method == "GET":  # a presigned GET does not sign HEAD
        url = await blobs.presigned_get(blob.key, presign_ttl, filename=blob.filename, content_type=blob.media_type)
        if url is not None:
            # the URL expires: the redirect must not outlive it in any cache
            return RedirectResponse(url, status_code=307, headers={"Cache-Control": "no-store"})
    headers = {
        **blob.headers,
        "Accept-Ranges": "bytes",
        "Content-Disposition": _disposition(blob.filename),
    }
    try:
        wanted = _single_range(request.headers.get("range"), request.headers.get("if-range"), blob)
    except _Unsatisfiable:
        return Response(status_code=416, headers={"Content-Range": f"bytes */{blob.size}"})
    start, end = wanted if wanted is not None else (0, None)
    stream = await blobs.open_stream(blob.key, start, end)
    status = 200
    if wanted is not None:
        status = 206
        headers["Content-Range"] = f"bytes {stream.start}-{stream.start + stream.length - 1}/{stream.size}"
    headers["Content-Length"] = str(stream.length)
    if request.method == "HEAD":
        await stream.close()
        return Response(status_code=status, headers=headers, media_type=blob.media_type)
    return StreamingResponse(stream.chunks, status_code=status, headers=headers, media_type=blob.media_type)


class _Unsatisfiable(Exception):
    """The range lies wholly past the end: 416."""


def _single_range(header: str | None, if_range: str | None, blob: Served) -> tuple[int, int] | None:
    """The one byte range asked for (inclusive), or ``None`` for the whole blob."""
    if header is None or (if_range is not None and if_range != blob.headers.get("ETag")):
        return None
    match = _RANGE.match(header.strip())
    if match is None:
        return None  # malformed or several ranges: the whole blob
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:  # the last N bytes
        count = int(last)
        if count == 0:
            raise _Unsatisfiable
        return max(blob.size - count, 0), blob.size - 1
    start = int(first)
    end = min(int(last), blob.size - 1) if last else blob.size - 1
    if start >= blob.size or (last and int(last) < start):
        raise _Unsatisfiable
    return start, end


def _disposition(filename: str) -> str:
    quoted = quote(filename)
    if quoted != filename:
        return f"inline; filename*=utf-8''{quoted}"
    return f'inline; filename="{filename}"'
