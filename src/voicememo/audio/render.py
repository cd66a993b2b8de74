"""Renditions: the exact file a recipient gets, made once per (audio, profile) and verified.

- ``imessage``: mono Opus in CAF, as Apple's afconvert writes voice memos (our own CAF writer).
- ``mms``: a carrier-friendly plain attachment that fits the MMS cap (AAC-LC in M4A, else AMR-NB).

Every rendition is decoded back with FFmpeg before it is used: a file that does not decode
to the source length (within one packet), is not mono, or is silent where the source is
not, is a failed send with a reason, never a silently different file.
Runs in the audio process pool; memory stays flat because frames stream through.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import av.error
import numpy as np
from av.audio.resampler import AudioResampler

from voicememo.audio.caf import OPUS_RATE, CafError, CafOpusWriter, read_caf
from voicememo.audio.decode import iter_frames
from voicememo.audio.opus_encode import OpusEncoding
from voicememo.audio.probe import probe_file, samples_to_ms

MMS_MAX_BYTES = 600 * 1000
_AAC_BITRATES = (64000, 48000, 32000, 24000, 16000)
_AMR_BYTES_PER_SECOND = 32 * 50  # 12.2 kb/s mode: 31 bytes + 1 header byte per 20 ms frame
_SILENCE_DBFS = -60.0


class RenditionFailed(Exception):
    """The rendition could not be made or did not verify; the message is the user-facing reason."""


@dataclass(frozen=True, slots=True)
class Rendition:
    profile: str
    mime_type: str
    filename: str
    codec: str
    sample_rate: int
    bit_rate: int
    duration_ms: int
    source_duration_ms: int
    size_bytes: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def render(
    src: str | Path,
    dst: str | Path,
    profile: str,
    *,
    bit_rate: int = 32000,
    desc_rate: int = 24000,
    mms_max_bytes: int = MMS_MAX_BYTES,
    source_samples: int = 0,
    source_rate: int = 0,
    threads: int = 0,
) -> Rendition:
    if profile == "imessage":
        return render_imessage(
            src,
            dst,
            bit_rate=bit_rate,
            desc_rate=desc_rate,
            source_samples=source_samples,
            source_rate=source_rate,
            threads=threads,
        )
    if profile == "mms":
        return render_mms(src, dst, max_bytes=mms_max_bytes, source_samples=source_samples, source_rate=source_rate)
    raise ValueError(f"unknown rendition profile {profile!r}")


def render_imessage(
    src: str | Path,
    dst: str | Path,
    *,
    bit_rate: int = 32000,
    desc_rate: int = 24000,
    source_samples: int = 0,
    source_rate: int = 0,
    threads: int = 0,
) -> Rendition:
    """``source_samples``/``source_rate``: the exact length the intake probe measured (else probed again).
    ``threads``: encoder threads for a long memo (0 = one per CPU)."""
    if desc_rate not in (24000, 48000):
        raise ValueError("the CAF descriptor rate must be 24000 or 48000")
    source_samples, source_rate = _exact_length(src, source_samples, source_rate)
    source_ms = samples_to_ms(source_samples, source_rate)
    limit = round(source_samples * desc_rate / source_rate)
    encoding = OpusEncoding(src, rate=desc_rate, bit_rate=bit_rate, limit=limit, threads=threads)
    check = _DecodeBack()
    with open(dst, "wb") as fh, contextlib.closing(encoding.packets()) as packets:
        writer = CafOpusWriter(fh, sample_rate=desc_rate, frames_per_packet=encoding.frames_per_packet)
        for packet in packets:
            writer.write_packet(packet)
            check.feed(packet)
        if not writer.sizes:
            raise RenditionFailed("The audio produced no Opus packets.")
        writer.finish(valid_frames=encoding.fed, priming_48k=encoding.priming_48k)
    duration_ms = _verify_caf(
        dst, check, source_ms, frame_ms=1000 * encoding.frames_per_packet // desc_rate, source_path=src
    )
    return Rendition(
        "imessage",
        "audio/x-caf",
        "Audio Message.caf",
        "opus",
        desc_rate,
        bit_rate,
        duration_ms,
        source_ms,
        Path(dst).stat().st_size,
    )


def render_mms(
    src: str | Path,
    dst: str | Path,
    *,
    max_bytes: int = MMS_MAX_BYTES,
    source_samples: int = 0,
    source_rate: int = 0,
) -> Rendition:
    """``source_samples``/``source_rate``: the exact length the intake probe measured (else probed again)."""
    source_ms = samples_to_ms(*_exact_length(src, source_samples, source_rate))
    seconds = source_ms / 1000
    for rate in _AAC_BITRATES:
        if seconds * rate / 8 * 1.03 + 4096 <= max_bytes:  # 3 % + 4 KB for the container
            made = _encode_plain(src, dst, "ipod", "aac", 24000 if rate < 32000 else 44100, rate)
            if made <= max_bytes:
                duration_ms = _verify(dst, "mov", source_ms, frame_ms=50, source_path=src)
                return Rendition("mms", "audio/mp4", "voice-memo.m4a", "aac", 0, rate, duration_ms, source_ms, made)
    if seconds * _AMR_BYTES_PER_SECOND + 6 <= max_bytes:
        made = _encode_plain(src, dst, "amr", "libopencore_amrnb", 8000, 12200)
        if made <= max_bytes:
            duration_ms = _verify(dst, "amr", source_ms, frame_ms=20, source_path=src)
            return Rendition("mms", "audio/amr", "voice-memo.amr", "amr_nb", 8000, 12200, duration_ms, source_ms, made)
    raise RenditionFailed(
        f"The memo is {seconds:.0f} s long; even AMR-NB at 12.2 kb/s exceeds the {max_bytes // 1000} KB MMS limit "
        "(about 6 minutes fit). It was not truncated; send a shorter memo to SMS/RCS recipients."
    )


def _exact_length(src: str | Path, samples: int, rate: int) -> tuple[int, int]:
    """The source length as (samples, rate): the one measured at intake, or a fresh full-decode probe."""
    if samples and rate:
        return samples, rate
    measured = probe_file(src)
    return measured.samples, measured.sample_rate


def _encode_plain(src: str | Path, dst: str | Path, fmt: str, codec: str, rate: int, bit_rate: int) -> int:
    with av.open(str(dst), "w", format=fmt) as out:
        stream: Any = out.add_stream(codec, rate=rate)
        stream.layout = "mono"
        stream.bit_rate = bit_rate
        ctx = stream.codec_context
        frame_size = 160 if codec == "libopencore_amrnb" else 1024
        pts = 0
        resampler = AudioResampler(
            format=ctx.format.name if ctx.format else "fltp", layout="mono", rate=rate, frame_size=frame_size
        )
        for decoded in iter_frames(src):
            decoded.pts = None
            for frame in resampler.resample(decoded):
                frame.pts, frame.time_base = pts, Fraction(1, rate)
                pts += frame.samples
                for packet in stream.encode(frame):
                    out.mux(packet)
        for frame in resampler.resample(None):
            frame.pts, frame.time_base = pts, Fraction(1, rate)
            pts += frame.samples
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return Path(dst).stat().st_size


def _verify(path: str | Path, demuxer: str, expected_ms: int, *, frame_ms: int, source_path: str | Path) -> int:
    """Decode the rendition back: same length within one packet, mono, not silent unless the source is."""
    samples, rate, channels, peak_sq = 0, 0, 0, 0.0
    try:
        with av.open(str(path), format=demuxer) as container:
            stream = container.streams.audio[0]
            channels = stream.codec_context.channels
            for packet in container.demux(stream):
                for frame in stream.codec_context.decode(packet if packet.size else None):
                    samples += frame.samples
                    rate = frame.sample_rate
                    peak_sq = max(peak_sq, _mean_square(frame))
    except av.error.FFmpegError as exc:
        raise RenditionFailed(f"The rendition does not decode ({exc}); it was not sent.") from exc
    if channels != 1:
        raise RenditionFailed(f"The rendition has {channels} channels instead of 1; it was not sent.")
    got_ms = samples_to_ms(samples, rate) if rate else 0
    if abs(got_ms - expected_ms) > frame_ms:
        raise RenditionFailed(
            f"The rendition decodes to {got_ms} ms but the source is {expected_ms} ms; it was not sent."
        )
    if _loudness_dbfs(peak_sq) < _SILENCE_DBFS and not _source_is_silent(source_path):
        raise RenditionFailed("The rendition is silent although the source is not; it was not sent.")
    return got_ms


class _DecodeBack:
    """FFmpeg's Opus decoder on every packet as it is written, in order, as a recipient decodes
    the stream (in the writing thread: the encoders run in their own threads meanwhile)."""

    def __init__(self) -> None:
        self._decoder: Any = av.CodecContext.create("opus", "r")
        self._decoder.sample_rate = OPUS_RATE
        self._decoder.layout = "mono"
        self.samples = 0
        self.loudest = 0.0
        self.error: str | None = None

    def feed(self, packet: bytes) -> None:
        if self.error:
            return
        try:
            for frame in self._decoder.decode(av.Packet(packet)):
                self.samples += frame.samples
                self.loudest = max(self.loudest, _mean_square(frame))
        except av.error.FFmpegError as exc:
            self.error = str(exc)


def _verify_caf(
    path: str | Path, check: _DecodeBack, expected_ms: int, *, frame_ms: int, source_path: str | Path
) -> int:
    """The packets decoded (above); now FFmpeg's CAF demuxer must read our container back to the same
    packets, mono Opus, and the pakt's trim must leave the source length within one packet."""
    if check.error:
        raise RenditionFailed(f"The rendition does not decode ({check.error}); it was not sent.")
    try:
        info = read_caf(Path(path).read_bytes())
    except CafError as exc:
        raise RenditionFailed(f"The rendition's CAF container is malformed ({exc}); it was not sent.") from exc
    try:
        with av.open(str(path), format="caf") as container:
            stream = container.streams.audio[0]
            codec, channels = stream.codec_context.name, stream.codec_context.channels
            sizes = [p.size for p in container.demux(stream) if p.size]
    except av.error.FFmpegError as exc:
        raise RenditionFailed(f"FFmpeg cannot read the rendition's container ({exc}); it was not sent.") from exc
    if codec != "opus" or channels != 1 or tuple(sizes) != info.packet_sizes:
        raise RenditionFailed(
            f"The rendition reads back as {codec}, {channels} channel(s), {len(sizes)} packets "
            f"instead of mono Opus with {info.packets}; it was not sent."
        )
    exact = check.samples - info.priming - info.remainder
    got_ms = samples_to_ms(max(0, exact), OPUS_RATE)
    if abs(got_ms - expected_ms) > frame_ms or check.samples != info.packets * info.frames_per_packet * (
        OPUS_RATE // int(info.sample_rate)
    ):
        raise RenditionFailed(
            f"The rendition decodes to {got_ms} ms but the source is {expected_ms} ms; it was not sent."
        )
    if _loudness_dbfs(check.loudest) < _SILENCE_DBFS and not _source_is_silent(source_path):
        raise RenditionFailed("The rendition is silent although the source is not; it was not sent.")
    return got_ms


def _mean_square(frame: av.AudioFrame) -> float:
    """Mean square of a frame, relative to full scale whatever the sample format."""
    if frame.format.name in ("flt", "fltp") and len(frame.layout.channels) == 1:
        mono = np.frombuffer(bytes(frame.planes[0]), dtype=np.float32, count=frame.samples)  # the fast, common case
        return float(np.dot(mono, mono)) / max(1, frame.samples)
    data: Any = frame.to_ndarray()
    scaled = data / float(np.iinfo(data.dtype).max) if data.dtype.kind in "iu" else data.astype(np.float64)
    if data.dtype.kind == "u":
        scaled = scaled * 2 - 1
    return float(np.mean(np.square(scaled, dtype=np.float64)))


def _loudness_dbfs(mean_square: float) -> float:
    return 10 * math.log10(mean_square) if mean_square > 0 else -math.inf


def _source_is_silent(path: str | Path) -> bool:
    loudest = max((_mean_square(frame) for frame in iter_frames(path)), default=0.0)
    return _loudness_dbfs(loudest) < _SILENCE_DBFS
