"""A memo's waveform: peak levels per time bucket, stored compactly with the attachment, drawn as SVG.

Encoding (``attachments.peaks``): ``PEAK_BUCKETS`` bytes, one per equal slice of the decoded audio,
each the loudest absolute sample in that slice (all channels) scaled linearly so that full scale is
255 and digital silence is 0; base64 (RFC 4648, no padding stripped) in a short text column.
"""

from __future__ import annotations

from dataclasses import dataclass

#: buckets per memo: enough for a bubble's bars at any phone width, 128 base64 characters stored
PEAK_BUCKETS = 96


@dataclass(frozen=True, slots=True)
class Waveform:
    """Peak level per bucket (0–255), oldest first."""

    values: tuple[int, ...]

    def encode(self) -> str:
        """The stored form (base64 of the bytes)."""
        raise NotImplementedError

    @classmethod
    def decode(cls, text: str) -> Waveform:
        """From the stored form; ValueError when it is not one."""
        raise NotImplementedError


def render_svg(waveform: Waveform, duration_ms: int | None, *, width: int = 240, height: int = 40) -> str:
    """The waveform as an accessible SVG of bars (``viewBox`` scaled, ``role="img"``, a ``<title>`` with
    the duration), safe to inline in HTML: it contains no text from users."""
    raise NotImplementedError


def format_duration(duration_ms: int | None) -> str:
    """``m:ss`` (``h:mm:ss`` past an hour) for a bubble; ``"unknown length"`` when not measured."""
    raise NotImplementedError
