"""Ogg/Opus previews for browsers (RFC 7845): our own small Ogg writer, so the iMessage rendition's
Opus packets go in unchanged (pre-skip and end trim from its CAF ``pakt``) and the original gets
the same exact trim from its measured length."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class OggPreview:
    duration_ms: int
    size_bytes: int
    packets: int


def caf_opus_to_ogg(src: str | Path, dst: str | Path) -> OggPreview:
    """Remux a CAF-Opus rendition's packets into Ogg without re-encoding."""
    raise NotImplementedError


def encode_ogg_opus(src: str | Path, dst: str | Path, *, samples: int, rate: int, bit_rate: int = 64000) -> OggPreview:
    """Encode any accepted audio file to Ogg/Opus, cut at its exact measured length."""
    raise NotImplementedError


def make_preview(
    src: str, dst: str, source: str, *, samples: int = 0, rate: int = 0, bit_rate: int = 64000
) -> OggPreview:
    """The pool's entry point: ``source`` "imessage" (remux) or "original" (encode)."""
    raise NotImplementedError
