"""Browser previews: Ogg/Opus that Chromium and Firefox play (the CAF-Opus bubble plays in neither).

``original``: the upload encoded to mono Ogg/Opus at 64 kb/s, cut at its measured length.
``imessage``: the iMessage rendition's own Opus packets remuxed from CAF into Ogg without
re-encoding (audio/ogg.py): exactly what the recipient hears.

Made once per (audio sha256, preview profile) and kept like a rendition: a row in ``renditions``
(its blob counts as live for the debris sweep and goes when the audio's last attachment does).
Two requests at once may both make it; the first stored wins and the other's blob is deleted.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Literal

from voicememo.domain.models import Attachment, AttachmentStatus, Service
from voicememo.errors import AttachmentNotFound, InvalidParameter
from voicememo.services.context import ServiceContext
from voicememo.services.renditions import Renditions, local_copy
from voicememo.storage.incoming import temp_path
from voicememo.storage.repos.attachments import AttachmentRepo
from voicememo.storage.repos.delivery import RenditionRepo, StoredRendition

PreviewSource = Literal["original", "imessage"]
CONTENT_TYPE = "audio/ogg; codecs=opus"
ORIGINAL_BIT_RATE = 64000


@dataclass(frozen=True, slots=True)
class Preview:
    """What a route needs to stream it: api/media.py ``serve_blob(request, c.ctx.blobs, Served(p.key,
    p.size_bytes, p.filename, p.content_type, {"ETag": p.etag}), presign_ttl=None)``."""

    key: str
    content_type: str  # "audio/ogg; codecs=opus"
    size_bytes: int
    filename: str
    etag: str  # quoted; the same for the same audio and profile
    duration_ms: int


class PreviewService:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx
        self.renditions = Renditions(ctx)

    async def preview(self, partner_id: str, attachment_id: str, source: PreviewSource) -> Preview:
        """The preview, made now if no one made it before. AttachmentNotFound when not the partner's,
        not complete or deleted; InvalidParameter for an unknown source; RenditionFailed when the
        audio cannot be rendered."""
        if source not in ("original", "imessage"):
            raise InvalidParameter("source must be 'original' or 'imessage'.")
        async with self.ctx.db.read() as s:
            attachment = await AttachmentRepo(s).get(partner_id, attachment_id)
        if attachment is None or attachment.status is not AttachmentStatus.COMPLETE:
            raise AttachmentNotFound(f"Attachment {attachment_id} not found.")
        assert attachment.sha256 is not None
        assert attachment.blob_key is not None
        if source == "imessage":
            rendition = await self.renditions.for_service(attachment, Service.IMESSAGE)
            stored = await self._made(attachment, f"preview-ogg-{rendition.profile}", rendition.blob_key, source, {})
        else:
            options = {"samples": attachment.samples or 0, "rate": attachment.sample_rate or 0}
            options["bit_rate"] = ORIGINAL_BIT_RATE
            stored = await self._made(
                attachment, f"preview-ogg-original-{ORIGINAL_BIT_RATE}", attachment.blob_key, source, options
            )
        stem = attachment.filename.rsplit(".", 1)[0] or "memo"
        return Preview(
            key=stored.blob_key,
            content_type=CONTENT_TYPE,
            size_bytes=stored.size_bytes,
            filename=f"{stem} ({source}).ogg",
            etag=f'"{stored.sha256[:32]}-{stored.profile}"',
            duration_ms=stored.duration_ms,
        )

    async def _made(
        self, audio: Attachment, profile: str, source_key: str, source: str, options: dict[str, int]
    ) -> StoredRendition:
        assert audio.sha256 is not None
        async with self.ctx.db.read() as s:
            cached = await RenditionRepo(s).get(audio.sha256, profile)
        if cached is not None and await self.ctx.blobs.exists(cached.blob_key):
            return cached
        async with local_copy(self.ctx, source_key) as src, temp_path(self.ctx.settings.tmp_dir) as dst:
            made = await self.ctx.audio.preview(src, dst, source, **options)
            blob = await self.ctx.blobs.put_file(f"renditions/{audio.sha256}/{profile}-{uuid.uuid4().hex[:8]}.ogg", dst)
        stored = StoredRendition(
            str(uuid.uuid4()), audio.sha256, profile, blob.key, CONTENT_TYPE, "preview.ogg", blob.size,
            made.duration_ms, made.as_dict(),
        )  # fmt: skip
        async with self.ctx.db.write() as s:
            repo = RenditionRepo(s)
            if cached is not None:  # its blob is gone: replace the row
                await repo.remove(cached.id)
            if not await repo.add(stored, self.ctx.clock()):
                existing = await repo.get(audio.sha256, profile)
                assert existing is not None
                await self.ctx.blobs.delete(blob.key)
                return existing
        return stored
