"""Waveform peaks measured inside the decode that counts samples (audio/probe.py), not a second decode.

Each decoded frame contributes its loudest absolute sample (all channels, relative to full scale);
at the end the frames are spread over ``PEAK_BUCKETS`` equal slices of the decoded length and each
bucket keeps its loudest frame. Scale: linear, full scale = 255 (domain/waveform.py).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from voicememo.domain.waveform import PEAK_BUCKETS


def frame_peak(frame: Any) -> float:
    """The frame's loudest absolute sample, 0.0–1.0, whatever its sample format."""
    data: Any = frame.to_ndarray()
    if data.size == 0:
        return 0.0
    if data.dtype.kind == "f":
        return float(min(1.0, np.max(np.abs(data))))
    info = np.iinfo(data.dtype)
    if data.dtype.kind == "u":  # unsigned PCM: silence sits at the middle
        middle = (int(info.max) + 1) / 2
        return float(np.max(np.abs(data.astype(np.float64) - middle)) / middle)
    return float(min(1.0, np.max(np.abs(data.astype(np.int64))) / float(info.max)))


class PeakMeter:
    """Fed every decoded frame (:meth:`add`); :meth:`buckets` gives the levels. Memory: two numbers per
    frame (a two-hour memo at 48 kHz in 1024-sample frames: ~340k numbers, a few MB at most)."""

    def __init__(self) -> None:
        self._starts: list[int] = []
        self._peaks: list[float] = []
        self._samples = 0

    def add(self, frame: Any) -> None:
        if not frame.samples:
            return
        self._starts.append(self._samples)
        self._peaks.append(frame_peak(frame))
        self._samples += frame.samples

    def buckets(self, count: int = PEAK_BUCKETS) -> tuple[int, ...]:
        """``count`` levels 0–255; each bucket takes the loudest frame overlapping it (all zero: no audio)."""
        levels = [0.0] * count
        total = self._samples
        ends = [*self._starts[1:], total]
        for start, end, peak in zip(self._starts, ends, self._peaks, strict=True):
            for bucket in range(start * count // total, (end - 1) * count // total + 1):
                levels[bucket] = max(levels[bucket], peak)
        return tuple(min(255, round(level * 255)) for level in levels)
