"""A memo's Opus packets, encoded in parallel segments that splice without a seam.

libopus encodes on one core. A long memo is cut into segments at packet boundaries, one
encoder each, in threads (FFmpeg releases the GIL). Every segment after the first starts
its encoder ``PREROLL_PACKETS`` early on the same audio and drops those packets, so its
state at the seam is warmed on what precedes it; a decoder reading the spliced stream
sees no seam. Measured on espeak-ng speech, 24 kHz, 32 kb/s, against one encoder over the
whole file: in the 100 ms after a seam the two decodes differ by 19.3 dB SNR with a 1 s
pre-roll, the same as anywhere else two encodings differ (19.0 dB); with no pre-roll the
seam stands out (11.6 dB). Packets are identical in count and timing to one encoder's.

Each segment decodes the source itself from the start (decoding is ~10x faster than
encoding), so memory stays flat: only the later segments' compressed packets wait.
"""

from __future__ import annotations

import contextlib
import os
import queue
import threading
from collections.abc import Generator, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
from av.audio.resampler import AudioResampler

from voicememo.audio.caf import OPUS_RATE
from voicememo.audio.decode import iter_frames

PREROLL_PACKETS = 50  # 1 s at 20 ms
MIN_SEGMENT_SECONDS = 15
_DONE = object()
_BATCH = 25


def default_threads() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


@dataclass(frozen=True, slots=True)
class _Plan:
    src: str
    rate: int
    bit_rate: int
    frames_per_packet: int
    limit: int  # samples at ``rate``: the exact source length; nothing past it is encoded


class OpusEncoding:
    """Iterate :meth:`packets` once; afterwards ``fed`` and ``priming_48k`` hold the exact lengths."""

    def __init__(self, src: str | Path, *, rate: int, bit_rate: int, limit: int, threads: int = 0) -> None:
        self.frames_per_packet = rate // 50
        self._plan = _Plan(str(src), rate, bit_rate, self.frames_per_packet, limit)
        total_packets = -(-limit // self.frames_per_packet)
        by_length = max(1, limit // (MIN_SEGMENT_SECONDS * rate))
        count = max(1, min(threads or default_threads(), by_length))
        self.bounds = [round(k * total_packets / count) for k in range(count + 1)]
        self.fed = 0
        self.priming_48k = 0

    def packets(self) -> Generator[bytes, None, None]:
        segments = len(self.bounds) - 1
        outs: list[queue.SimpleQueue[object]] = [queue.SimpleQueue() for _ in range(segments)]
        stop = threading.Event()
        with ThreadPoolExecutor(max_workers=segments, thread_name_prefix="opus") as pool:
            try:
                for k in range(segments):
                    last = k == segments - 1
                    pool.submit(self._segment, self.bounds[k], None if last else self.bounds[k + 1], outs[k], stop)
                for out in outs:
                    while (item := out.get()) is not _DONE:
                        if isinstance(item, BaseException):
                            raise item
                        yield from item  # type: ignore[misc]
            finally:
                stop.set()

    def _segment(self, first: int, end: int | None, out: queue.SimpleQueue[object], stop: threading.Event) -> None:
        """Packets ``first`` to ``end`` (exclusive; None = to the end, flushed) into ``out``."""
        try:
            plan = self._plan
            start = max(0, first - PREROLL_PACKETS)
            skip = first - start
            wanted = None if end is None else end - start
            encoder = _encoder(plan)
            made = 0
            batch: list[bytes] = []  # handed over in batches: one thread wake-up per half second of audio

            def take(packets: list[Any]) -> None:
                nonlocal made, batch
                for packet in packets:
                    if made == 0 and first == 0:
                        # libopus starts at pts = -(encoder delay), at the encoder's rate
                        self.priming_48k = max(0, -int(packet.pts or 0)) * (OPUS_RATE // plan.rate)
                    if made >= skip and (wanted is None or made < wanted):
                        batch.append(bytes(packet))
                    made += 1
                if len(batch) >= _BATCH:
                    out.put(batch)
                    batch = []

            origin = start * plan.frames_per_packet  # this encoder's sample 0, in the source
            time_base = Fraction(1, plan.rate)  # one per segment: a Fraction per 20 ms frame showed in profiles
            with contextlib.closing(_mono_frames(plan)) as frames:
                position = 0
                for frame in frames:
                    if stop.is_set() or (wanted is not None and made >= wanted):
                        break
                    at = position
                    position += frame.samples
                    if at < origin:
                        continue
                    frame.pts = at - origin
                    frame.time_base = time_base
                    take(encoder.encode(frame))
                if end is None:
                    self.fed = position
            if wanted is None or made < wanted:
                take(encoder.encode(None))
            out.put(batch)
        except BaseException as exc:  # re-raised by the consumer
            out.put(exc)
        finally:
            out.put(_DONE)


def _encoder(plan: _Plan) -> Any:
    encoder: Any = av.CodecContext.create("libopus", "w")
    encoder.sample_rate = plan.rate
    encoder.layout = "mono"
    encoder.format = "s16"
    encoder.bit_rate = plan.bit_rate
    encoder.options = {"frame_duration": "20", "application": "voip"}
    encoder.open()
    if int(encoder.frame_size) != plan.frames_per_packet:
        raise RuntimeError(f"libopus chose {encoder.frame_size} samples per packet, not {plan.frames_per_packet}")
    return encoder


def _mono_frames(plan: _Plan) -> Generator[av.AudioFrame, None, None]:
    """The source as mono s16 at the plan's rate, in packet-sized frames, cut at the exact length.

    A decoder may emit encoder padding that its container trims (MP4 edit lists): the exact
    length is the probe's, and nothing past it is encoded.
    """
    resampler = AudioResampler(format="s16", layout="mono", rate=plan.rate, frame_size=plan.frames_per_packet)
    fed = 0

    def resampled() -> Iterator[av.AudioFrame]:
        for frame in iter_frames(plan.src):
            frame.pts = None
            yield from resampler.resample(frame)
        yield from resampler.resample(None)

    for frame in resampled():
        if fed >= plan.limit:
            return
        if fed + frame.samples > plan.limit:
            frame = _head(frame, plan.limit - fed, plan.rate)
        fed += frame.samples
        yield frame


def _head(frame: av.AudioFrame, samples: int, rate: int) -> av.AudioFrame:
    cut = av.AudioFrame.from_ndarray(frame.to_ndarray()[:, :samples], format="s16", layout="mono")
    cut.sample_rate = rate
    return cut
