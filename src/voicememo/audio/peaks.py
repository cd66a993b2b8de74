"""Waveform peaks measured inside the decode that counts samples (audio/probe.py), not a second decode.

Each decoded frame contributes its loudest absolute sample (all channels, relative to full scale);
at the end the frames are spread over ``PEAK_BUCKETS`` equal slices of the decoded length and each
bucket keeps its loudest frame. Scale: linear, full scale = 255 (domain/waveform.py).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from voicememo.domain.waveform import PEAK_BUCKETS

#: PyAV sample formats (planar ones end in "p") and their numpy types
_DTYPES = {"u8": np.uint8, "s16": np.int16, "s32": np.int32, "s64": np.int64, "flt": np.float32, "dbl": np.float64}
#: samples gathered before one vectorised reduction (a numpy call per frame cost more than the decode)
_CHUNK = 1 << 16


def _planes(frame: Any) -> list[Any]:
    """The frame's samples as 1-D arrays read in place (one per plane; interleaved channels stay in one)."""
    name = frame.format.name
    planar = name.endswith("p")
    dtype = _DTYPES.get(name[:-1] if planar else name)
    if dtype is None:  # a format without a plain numpy type: the general path
        return [frame.to_ndarray().reshape(-1)]
    count = frame.samples if planar else frame.samples * len(frame.layout.channels)
    planes = frame.planes if planar else frame.planes[:1]
    return [np.frombuffer(plane, dtype=dtype, count=count) for plane in planes]


def _scale(dtype: Any) -> tuple[float, float]:
    """(middle, full scale) of a sample type: unsigned PCM's silence sits at the middle."""
    if dtype.kind == "f":
        return 0.0, 1.0
    info = np.iinfo(dtype)
    if dtype.kind == "u":
        middle = (int(info.max) + 1) / 2
        return middle, middle
    return 0.0, float(info.max)


class PeakMeter:
    """Fed every decoded frame (:meth:`add`); :meth:`buckets` gives the levels. Frames are kept (as views
    of their own memory) until ~65k samples are pending, then reduced per frame in one numpy call.
    Memory: the pending frames, and one start and one peak per frame (a two-hour memo in 1024-sample
    frames: ~340k numbers)."""

    def __init__(self) -> None:
        self._pending: list[Any] = []
        self._pending_size = 0
        self._bounds: list[int] = []  # where each pending frame starts in their concatenation
        self._starts: list[int] = []  # each frame's first sample in the decoded audio
        self._peaks: list[Any] = []  # arrays of per-frame peaks, 0.0–1.0
        self._samples = 0

    def add(self, frame: Any) -> None:
        if not frame.samples:
            return
        planes = _planes(frame)
        if self._pending and planes[0].dtype != self._pending[0].dtype:
            self._reduce()  # the decoder changed its sample format: reduce what was gathered in the old one
        self._bounds.append(self._pending_size)
        for plane in planes:
            self._pending.append(plane)
            self._pending_size += plane.size
        if self._pending_size >= _CHUNK:
            self._reduce()
        self._starts.append(self._samples)
        self._samples += frame.samples

    def _reduce(self) -> None:
        if not self._pending:
            return
        gathered = np.concatenate(self._pending)
        middle, full = _scale(gathered.dtype)
        high = np.maximum.reduceat(gathered, self._bounds).astype(np.float64) - middle
        low = middle - np.minimum.reduceat(gathered, self._bounds).astype(np.float64)
        self._peaks.append(np.maximum(high, low) / full)
        self._pending, self._pending_size, self._bounds = [], 0, []

    def buckets(self, count: int = PEAK_BUCKETS) -> tuple[int, ...]:
        """``count`` levels 0–255; each bucket takes the loudest frame overlapping it (all zero: no audio)."""
        self._reduce()
        levels = [0.0] * count
        total = self._samples
        if total == 0:
            return tuple(0 for _ in levels)
        peaks = np.concatenate(self._peaks).tolist()
        ends = [*self._starts[1:], total]
        for start, end, peak in zip(self._starts, ends, peaks, strict=True):
            for bucket in range(start * count // total, (end - 1) * count // total + 1):
                levels[bucket] = max(levels[bucket], peak)
        return tuple(min(255, round(max(0.0, level) * 255)) for level in levels)
