"""Waveform peaks measured inside the decode that counts samples (audio/probe.py), not a second decode."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from voicememo.domain.waveform import PEAK_BUCKETS


class PeakMeter:
    """Fed every decoded frame; :meth:`buckets` spreads the frames' peaks over ``PEAK_BUCKETS`` equal
    slices of the decoded length. Memory: one float per frame (a 2-hour memo: ~170k frames)."""

    def __init__(self) -> None:
        raise NotImplementedError

    def add(self, frame: Any) -> None:
        raise NotImplementedError

    def buckets(self, count: int = PEAK_BUCKETS) -> tuple[int, ...]:
        raise NotImplementedError


def peaks_of_file(path: str | Path) -> tuple[int, ...]:
    """Decode ``path`` once and return its peaks (for attachments stored before the probe kept them)."""
    raise NotImplementedError
