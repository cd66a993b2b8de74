"""Routes outside /v3: signed uploads, media downloads, health, error docs."""

from __future__ import annotations

import os
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import FileResponse

from voicememo.api import schemas as s
from voicememo.api.deps import ContainerDep
from voicememo.api.guard import GuardedRoute
from voicememo.api.media import Served, serve_blob
from voicememo.errors import AttachmentNotFound, NotFound, PayloadTooLarge

router = APIRouter(route_class=GuardedRoute)

ERROR_DOCS = {
    1001: "A required field is missing.",
    1002: "A phone number is not in E.164 format (+ country code and digits).",
    1003: "The body is not valid JSON, or a field has the wrong type.",
    1005: "A parameter is invalid; the message says which and why.",
    1007: "Rate limit reached; retry after retry_after seconds.",
    2001: "Chat not found (or not yours).",
    2002: "Message not found (or not yours).",
    2003: "Attachment not found (or not yours).",
    2004: "Missing or invalid API key.",
    2005: "Access denied (for uploads: a wrong or expired upload URL).",
    2006: "'from' is not a line of this API key.",
    2007: "The attachment's upload has not finished.",
    3006: "Internal error; quote the trace_id when reporting it.",
    4001: "Delivery failed; the reason says why.",
    4010: "The line's sender (e.g. the Mac running BlueBubbles) could not answer; nothing was changed.",
    5001: "The file is too large.",
    5002: "The voice memo URL could not be downloaded; the message says why.",
    5004: "Not a supported audio file; the message says what the bytes look like.",
    5006: "The declared content type does not match the bytes.",
}


@router.put(
    "/uploads/{attachment_id}",
    tags=["uploads"],
    operation_id="uploads_put",
    response_model=s.UploadOut,
    responses={
        403: {
            "model": s.ErrorResponse,
            "description": "The upload URL is not valid: a wrong signature, expired, or signed for another attachment.",
        },
        413: {"model": s.ErrorResponse, "description": "More bytes than the size_bytes the URL was signed for."},
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "The raw audio, exactly size_bytes long, with the Content-Type of required_headers.",
            "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
        }
    },
)
async def upload(attachment_id: str, token: Annotated[str, Query()], request: Request, c: ContainerDep) -> s.UploadOut:
    attachment = await c.attachments.receive_upload(
        attachment_id,
        token,
        request.headers.get("content-type"),
        request.headers.get("content-length"),
        request.stream(),
    )
    return s.UploadOut(
        attachment_id=attachment.id,
        status=attachment.status.value,
        size_bytes=attachment.size_bytes,
        duration_ms=attachment.duration_ms,
    )


@router.get(
    "/media/{attachment_id}/{filename}", tags=["media"], operation_id="media_download", response_class=FileResponse
)
@router.head("/media/{attachment_id}/{filename}", include_in_schema=False)
async def download(attachment_id: str, filename: str, request: Request, c: ContainerDep) -> Response:
    attachment = await c.attachments.public(attachment_id)
    assert attachment.blob_key is not None
    etag = f'"{attachment.sha256}"'
    mime = attachment.mime_type or attachment.content_type
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers={"ETag": etag})
    headers = {"ETag": etag, "Cache-Control": "public, max-age=31536000, immutable"}
    served = Served(attachment.blob_key, attachment.size_bytes, attachment.filename, mime, headers)
    presign = c.settings.s3_presign_ttl_seconds if c.settings.s3_presign_downloads else None
    try:
        return await serve_blob(request, c.ctx.blobs, served, presign_ttl=presign)
    except FileNotFoundError as exc:
        raise AttachmentNotFound() from exc


@router.post("/hooks/lines/{line_id}/{token}", tags=["hooks"], operation_id="sender_hook")
async def sender_hook(line_id: str, token: str, request: Request, c: ContainerDep) -> dict[str, object]:
    """Where a line's provider (a Mac running BlueBubbles) pushes message events; the token is the line's own."""
    limit = c.settings.sender_hook_max_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"An event body may be at most {limit} bytes.")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise PayloadTooLarge(f"An event body may be at most {limit} bytes.")
    return {"status": "ok", "receipts": await c.lines.receive_event(line_id, token, bytes(body))}


@router.get("/healthz", tags=["health"], operation_id="health")
async def health(c: ContainerDep) -> dict[str, object]:
    """The process and its database; lines by health, and what is wrong with any that is not healthy."""
    await c.ctx.db.ping()
    lines = await c.lines.all()
    counts = {"HEALTHY": 0, "AT_RISK": 0, "CRITICAL": 0}
    problems = []
    for line in lines:
        status = line.health_status or "HEALTHY"
        counts[status] = counts.get(status, 0) + 1
        if status != "HEALTHY":
            problems.append(
                {
                    "line_id": line.id,
                    "sender": line.sender_kind,
                    "status": status,
                    "problem": (line.health or {}).get("problem"),
                    "checked_at": line.health_checked_at.isoformat() if line.health_checked_at else None,
                }
            )
    return {
        "status": "ok",
        "pid": os.getpid(),  # which of `serve --workers N` processes answered
        "lines": {"total": len(lines), **counts},
        "line_problems": problems,
    }


@router.get("/errors/{code}", tags=["health"], operation_id="error_doc")
async def error_doc(code: int) -> dict[str, object]:
    if code not in ERROR_DOCS:
        raise NotFound("No such error code.")
    return {"code": code, "meaning": ERROR_DOCS[code]}
