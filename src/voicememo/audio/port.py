"""The audio port: what the services need from the audio side."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from voicememo.audio.probe import AudioInfo


class AudioChecker(Protocol):
    async def probe(self, path: Path) -> AudioInfo:
        """Measure the file, or raise UnsupportedAudio saying what is wrong with it."""
        ...
