"""Waveforms: peaks measured at intake (audio/probe.py), or computed once on first request and saved."""

from __future__ import annotations

from voicememo.domain.waveform import Waveform
from voicememo.services.context import ServiceContext


class WaveformService:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    async def waveform(self, partner_id: str, attachment_id: str) -> Waveform:
        """The attachment's peaks; for one stored before migration 0007, decoded now (in the audio pool)
        and saved. AttachmentNotFound when not the partner's, not complete, or deleted."""
        raise NotImplementedError

    async def svg(self, partner_id: str, attachment_id: str, *, width: int = 240, height: int = 40) -> str:
        """The waveform drawn (domain/waveform.render_svg) with the exact duration in its title."""
        raise NotImplementedError
