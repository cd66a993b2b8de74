"""A memo's browser preview (Ogg/Opus) of the original or of the iMessage rendition, for the signed-in
partner only (the API's /media URLs serve the stored files themselves, which Chromium cannot all play)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request
from starlette.responses import Response

from voicememo.api.media import Served, serve_blob
from voicememo.console.web import ConsoleRoute, SignedIn, console_of
from voicememo.errors import AttachmentNotFound

router = APIRouter(route_class=ConsoleRoute)


@router.get("/console/audio/{attachment_id}/{source}.ogg")
async def preview(
    request: Request, viewer: SignedIn, attachment_id: str, source: Literal["original", "imessage"]
) -> Response:
    c = console_of(request).container
    made = await c.previews.preview(viewer.partner.id, attachment_id, source)
    served = Served(
        made.key,
        made.size_bytes,
        made.filename,
        made.content_type,
        {"ETag": made.etag, "Cache-Control": "private, max-age=86400"},
    )
    try:
        response = await serve_blob(request, c.ctx.blobs, served, presign_ttl=None)
    except FileNotFoundError as exc:
        raise AttachmentNotFound("The preview of this memo is gone; reload the page to make it again.") from exc
    response.headers["Cache-Control"] = "private, max-age=86400"
    return response
