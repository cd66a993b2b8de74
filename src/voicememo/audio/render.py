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
import queue
import threading
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import av.error
import numpy as np
from av.audio.resampler import AudioResampler

from voicememo.audio.caf import OPUS_RATE, CafOpusWriter, read_caf
from voicememo.audio.decode import iter_frames
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
) -> Rendition:
    if profile == "imessage":
        return render_imessage(
            src, dst, bit_rate=bit_rate, desc_rate=desc_rate, source_samples=source_samples, source_rate=source_rate
        )
    if profile == "mms":
        return render_mms(src, dst, max_bytes=mms_max_bytes)
    raise ValueError(f"unknown rendition profile {profile!r}")


def _mono_frames(src: str | Path, rate: int, frame_size: int | None) -> Any:
    """The source, resampled to mono s16 at ``rate``, in frames of ``frame_size`` samples."""
    resampler = AudioResampler(format="s16", layout="mono", rate=rate, frame_size=frame_size)
    for frame in iter_frames(src):
        frame.pts = None
        yield from resampler.resample(frame)
    yield from resampler.resample(None)


def render_imessage(
    src: str | Path,
    dst: str | Path,
    *,
    bit_rate: int = 32000,
    desc_rate: int = 24000,
    source_samples: int = 0,
    source_rate: int = 0,
) -> Rendition:
    """``source_samples``/``source_rate``: the exact length the intake probe measured (else probed again)."""
    if desc_rate not in (24000, 48000):
        raise ValueError("the CAF descriptor rate must be 24000 or 48000")
    if not (source_samples and source_rate):
        measured = probe_file(src)
        source_samples, source_rate = measured.samples, measured.sample_rate
    source_ms = samples_to_ms(source_samples, source_rate)
    encoder: Any = av.CodecContext.create("libopus", "w")
    encoder.sample_rate = desc_rate
    encoder.layout = "mono"
    encoder.format = "s16"
    encoder.bit_rate = bit_rate
    encoder.options = {"frame_duration": "20", "application": "voip"}
    encoder.open()
    frames_per_packet = int(encoder.frame_size)
    fed = 0
    priming = 0
    first = True
    check = _DecodeBack()
    with open(dst, "wb") as fh:
        writer = CafOpusWriter(fh, sample_rate=desc_rate, frames_per_packet=frames_per_packet)

        def emit(packets: list[Any]) -> None:
            nonlocal first, priming
            for packet in packets:
                if first:
                    # libopus starts at pts = -(encoder delay), at the encoder's rate
                    priming = max(0, -int(packet.pts or 0)) * (OPUS_RATE // desc_rate)
                    first = False
                data = bytes(packet)
                writer.write_packet(data)
                check.feed(data)

        # A decoder may emit encoder padding that its container trims (MP4 edit lists): the exact
        # length is the probe's, at the descriptor rate, and nothing past it is encoded.
        limit = round(source_samples * desc_rate / source_rate)
        for frame in _prefetched(_mono_frames(src, desc_rate, frames_per_packet)):
            if fed >= limit:
                break
            if fed + frame.samples > limit:
                frame = _head(frame, limit - fed, desc_rate)
            frame.pts = fed
            frame.time_base = Fraction(1, desc_rate)
            fed += frame.samples
            emit(encoder.encode(frame))
        emit(encoder.encode(None))
        if not writer.sizes:
            raise RenditionFailed("The audio produced no Opus packets.")
        writer.finish(valid_frames=fed, priming_48k=priming)
    duration_ms = _verify_caf(
        dst, check.finish(), source_ms, frame_ms=1000 * frames_per_packet // desc_rate, source_path=src
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


def _prefetched(frames: Iterator[av.AudioFrame], depth: int = 64) -> Iterator[av.AudioFrame]:
    """Decode and resample in a second thread while this one encodes (FFmpeg releases the GIL)."""
    done = object()
    box: queue.Queue[object] = queue.Queue(maxsize=depth)
    failure: list[BaseException] = []
    stop = threading.Event()

    def produce() -> None:
        try:
            for frame in frames:
                if stop.is_set():
                    return
                box.put(frame)
        except BaseException as exc:  # re-raised in the consumer
            failure.append(exc)
        finally:
            box.put(done)

    worker = threading.Thread(target=produce, daemon=True)
    worker.start()
    try:
        while (item := box.get()) is not done:
            yield item  # type: ignore[misc]
        if failure:
            raise failure[0]
    finally:
        stop.set()
        while worker.is_alive():  # unblock a producer waiting on a full queue
            with contextlib.suppress(queue.Empty):
                box.get_nowait()
            worker.join(timeout=0.05)


def _head(frame: av.AudioFrame, samples: int, rate: int) -> av.AudioFrame:
    cut = av.AudioFrame.from_ndarray(frame.to_ndarray()[:, :samples], format="s16", layout="mono")
    cut.sample_rate = rate
    return cut


def render_mms(src: str | Path, dst: str | Path, *, max_bytes: int = MMS_MAX_BYTES) -> Rendition:
    source = probe_file(src)
    seconds = source.duration_ms / 1000
    for rate in _AAC_BITRATES:
        if seconds * rate / 8 * 1.03 + 4096 <= max_bytes:  # 3 % + 4 KB for the container
            made = _encode_plain(src, dst, "ipod", "aac", 24000 if rate < 32000 else 44100, rate)
            if made <= max_bytes:
                duration_ms = _verify(dst, "mov", source.duration_ms, frame_ms=50, source_path=src)
                return Rendition(
                    "mms", "audio/mp4", "voice-memo.m4a", "aac", 0, rate, duration_ms, source.duration_ms, made
                )
    if seconds * _AMR_BYTES_PER_SECOND + 6 <= max_bytes:
        made = _encode_plain(src, dst, "amr", "libopencore_amrnb", 8000, 12200)
        if made <= max_bytes:
            duration_ms = _verify(dst, "amr", source.duration_ms, frame_ms=20, source_path=src)
            return Rendition(
                "mms", "audio/amr", "voice-memo.amr", "amr_nb", 8000, 12200, duration_ms, source.duration_ms, made
            )
    raise RenditionFailed(
        f"The memo is {seconds:.0f} s long; even AMR-NB at 12.2 kb/s exceeds the {max_bytes // 1000} KB MMS limit "
        "(about 6 minutes fit). It was not truncated; send a shorter memo to SMS/RCS recipients."
    )


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
    """FFmpeg's Opus decoder on every packet as it is written, in a second thread (it releases the GIL)."""

    def __init__(self) -> None:
        self._packets: queue.Queue[bytes | None] = queue.Queue()
        self.samples = 0
        self.loudest = 0.0
        self.error: str | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def feed(self, packet: bytes) -> None:
        self._packets.put(packet)

    def finish(self) -> _DecodeBack:
        self._packets.put(None)
        self._thread.join()
        return self

    def _run(self) -> None:
        decoder: Any = av.CodecContext.create("opus", "r")
        decoder.sample_rate = OPUS_RATE
        decoder.layout = "mono"
        while (data := self._packets.get()) is not None:
            if self.error:
                continue
            try:
                for frame in decoder.decode(av.Packet(data)):
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
    info = read_caf(Path(path).read_bytes())
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
