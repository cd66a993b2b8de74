"""Waveforms: peaks measured at intake (audio/probe.py), or for attachments stored before migration
0007 measured once on first request (a full decode in the audio pool) and saved."""

from __future__ import annotations

from voicememo.domain.models import Attachment, AttachmentStatus
from voicememo.domain.waveform import Waveform, render_svg
from voicememo.errors import AttachmentNotFound
from voicememo.services.context import ServiceContext
from voicememo.services.renditions import local_copy
from voicememo.storage.repos.attachments import AttachmentRepo


class WaveformService:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    async def waveform(self, partner_id: str, attachment_id: str) -> Waveform:
        """The attachment's peaks. AttachmentNotFound when not the partner's, not complete, or deleted."""
        attachment = await self._attachment(partner_id, attachment_id)
        if attachment.peaks:
            try:
                return Waveform.decode(attachment.peaks)
            except ValueError:
                pass  # unreadable: measured again below and overwritten
        return await self._measure(attachment)

    async def svg(self, partner_id: str, attachment_id: str, *, width: int = 240, height: int = 40) -> str:
        """The waveform drawn (domain/waveform.render_svg) with the exact duration in its title."""
        attachment = await self._attachment(partner_id, attachment_id)
        waveform = await self.waveform(partner_id, attachment_id)
        return render_svg(waveform, attachment.duration_ms, width=width, height=height)

    async def _attachment(self, partner_id: str, attachment_id: str) -> Attachment:
        async with self.ctx.db.read() as s:
            attachment = await AttachmentRepo(s).get(partner_id, attachment_id)
        if attachment is None or attachment.status is not AttachmentStatus.COMPLETE or not attachment.blob_key:
            raise AttachmentNotFound(f"Attachment {attachment_id} not found.")
        return attachment

    async def _measure(self, attachment: Attachment) -> Waveform:
        """Decode the stored audio once (two requests at once both decode; the second write is the same)."""
        assert attachment.blob_key is not None
        async with local_copy(self.ctx, attachment.blob_key) as path:
            info = await self.ctx.audio.probe(path)
        waveform = Waveform(info.peaks or (0,))
        async with self.ctx.db.write() as s:
            await AttachmentRepo(s).update(attachment.partner_id, attachment.id, peaks=waveform.encode())
        return waveform
