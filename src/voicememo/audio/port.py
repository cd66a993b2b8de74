"""The audio port: what the services need from the audio side."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from voicememo.audio.ogg import OggPreview
from voicememo.audio.probe import AudioInfo
from voicememo.audio.render import Rendition


class AudioChecker(Protocol):
    async def probe(self, path: Path) -> AudioInfo:
        """Measure the file, or raise UnsupportedAudio saying what is wrong with it."""
        ...

    async def render(self, src: Path, dst: Path, profile: str, **options: int) -> Rendition:
        """Make the rendition ``profile`` of ``src`` at ``dst``, verified, or raise RenditionFailed."""
        ...

    async def preview(self, src: Path, dst: Path, source: str, **options: int) -> OggPreview:
        """An Ogg/Opus browser preview of ``src`` at ``dst`` (audio/ogg.py's ``make_preview``)."""
        ...
