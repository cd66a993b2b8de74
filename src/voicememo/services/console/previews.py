"""Browser previews: Ogg/Opus that Chromium and Firefox play, made once per (sha256, profile) and cached.

``original``: the upload encoded to Ogg/Opus. ``imessage``: the iMessage rendition's own Opus packets
remuxed from CAF into Ogg without re-encoding: exactly what the recipient hears.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from voicememo.services.context import ServiceContext

PreviewSource = Literal["original", "imessage"]


@dataclass(frozen=True, slots=True)
class Preview:
    """What a route needs to stream it: api/media.py ``serve_blob(request, blobs,
    Served(key, size_bytes, filename, content_type, {"ETag": etag}), presign_ttl=None)``."""

    key: str
    content_type: str  # "audio/ogg; codecs=opus"
    size_bytes: int
    filename: str
    etag: str  # quoted, stable for the same audio and profile
    duration_ms: int


class PreviewService:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    async def preview(self, partner_id: str, attachment_id: str, source: PreviewSource) -> Preview:
        """The preview, made now if no one made it before (two at once: both get a working one).
        AttachmentNotFound when not the partner's / not complete; InvalidParameter for an unknown source."""
        raise NotImplementedError
