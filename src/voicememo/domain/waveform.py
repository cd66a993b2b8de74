"""A memo's waveform: peak levels per time bucket, stored compactly with the attachment, drawn as SVG.

Encoding (``attachments.peaks``): ``PEAK_BUCKETS`` bytes, one per equal slice of the decoded audio,
each the loudest absolute sample in that slice (all channels), on a linear scale where full scale
is 255 and digital silence 0 (audio/peaks.py measures them); stored as base64 text (128 characters).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

#: buckets per memo: enough for a bubble's bars at any phone width, 128 base64 characters stored
PEAK_BUCKETS = 96
#: a bar never drawn shorter than this share of the height, so silence still shows as a line of dots
_MIN_BAR = 0.06


@dataclass(frozen=True, slots=True)
class Waveform:
    """Peak level per bucket (0–255), in time order."""

    values: tuple[int, ...]

    def __post_init__(self) -> None:
        if not self.values or any(not 0 <= v <= 255 for v in self.values):
            raise ValueError("a waveform is one or more levels of 0–255")

    def encode(self) -> str:
        """The stored form (base64 of the bytes)."""
        return base64.b64encode(bytes(self.values)).decode("ascii")

    @classmethod
    def decode(cls, text: str) -> Waveform:
        """From the stored form; ValueError when it is not one."""
        try:
            raw = base64.b64decode(text.encode("ascii"), validate=True)
        except (binascii.Error, UnicodeEncodeError) as exc:
            raise ValueError(f"not a stored waveform: {exc}") from exc
        return cls(tuple(raw))


def format_duration(duration_ms: int | None) -> str:
    """``m:ss`` (``h:mm:ss`` from an hour on), rounded to the nearest second; "unknown length" unmeasured."""
    if duration_ms is None or duration_ms < 0:
        return "unknown length"
    seconds = (duration_ms + 500) // 1000
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def render_svg(waveform: Waveform, duration_ms: int | None, *, width: int = 240, height: int = 40) -> str:
    """The waveform as an accessible SVG of bars: drawn in a ``viewBox`` of one unit per bucket (so it
    scales to any box), ``role="img"`` and a ``<title>`` with the duration. It holds no text from
    users, so it is safe to inline in HTML. Bars use ``currentColor``: the page's CSS colours them."""
    count = len(waveform.values)
    title = f"Voice memo waveform, {format_duration(duration_ms)}"
    bars = []
    for i, value in enumerate(waveform.values):
        level = max(_MIN_BAR, value / 255)
        bar_height = round(level * height, 2)
        y = round((height - bar_height) / 2, 2)
        bars.append(f'<rect x="{i}.15" y="{y}" width="0.7" height="{bar_height}" rx="0.3"/>')
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="waveform" role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {count} {height}" preserveAspectRatio="none" fill="currentColor">'
        f"<title>{title}</title>{''.join(bars)}</svg>"
    )
