"""Check and measure one audio file exactly: sniff, open with the forced demuxer, decode every packet.

Container headers lie (MP3 without Xing, ADTS, AMR are bitrate estimates; a truncated
file still states its full length), so the duration is the number of decoded samples.
A header length is consulted only where it is sample-exact, to catch truncation.
Runs in a worker process: pure, synchronous, no I/O besides reading the file.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import av.error

from voicememo.audio.decode import decoder_for, is_amr
from voicememo.audio.formats import FORMATS, AudioFormat
from voicememo.audio.headers import declared_samples
from voicememo.audio.peaks import PeakMeter
from voicememo.audio.sniff import Sniffed, sniff_path
from voicememo.errors import UnsupportedAudio

#: a decode shorter than this share of a sample-exact header length is a truncated file
MIN_DECODED_SHARE = 0.9
#: codecs without a fixed frame size (PCM) still get this much slack when matching the header
_FRAME_SLACK = 2048


@dataclass(frozen=True, slots=True)
class AudioInfo:
    format: AudioFormat
    mime_type: str
    codec: str
    sample_rate: int
    channels: int
    samples: int
    duration_ms: int
    #: what the container claims, where it claims anything (milliseconds)
    header_duration_ms: int | None
    description: str
    #: the container the bytes are in; differs from ``format`` only for AMR in an MP4-family file (3GP)
    container: AudioFormat
    #: waveform levels 0–255 per bucket, measured in the same decode (audio/peaks.py)
    peaks: tuple[int, ...] | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def samples_to_ms(samples: int, rate: int) -> int:
    """Round half up, in integers: no float drift on long files."""
    return (samples * 1000 + rate // 2) // rate


def probe_file(path: str | Path, time_limit: float = 120.0) -> AudioInfo:
    """Measure ``path`` or raise :class:`UnsupportedAudio` saying what is wrong with it."""
    sniffed = sniff_path(path)
    if sniffed.format is None:
        raise UnsupportedAudio(
            f"The file is not a supported audio file: it looks like {sniffed.description}. "
            "Send MP3, M4A, AAC, CAF, WAV, AIFF or AMR audio."
        )
    info = FORMATS[sniffed.format]
    try:
        container = av.open(str(path), format=info.demuxer, metadata_errors="ignore")
    except av.error.FFmpegError as exc:
        raise UnsupportedAudio(
            f"The {info.label} file could not be opened ({_reason(exc)}); it is probably truncated or corrupt."
        ) from exc
    try:
        return _measure(container, str(path), sniffed, time_limit)
    finally:
        container.close()


def _measure(container: Any, path: str, sniffed: Sniffed, time_limit: float) -> AudioInfo:
    assert sniffed.format is not None
    info = FORMATS[sniffed.format]
    label = "MP4" if sniffed.format is AudioFormat.M4A else info.label
    if not container.streams.audio:
        raise UnsupportedAudio(f"{label} with no audio track: there is nothing to send as a voice memo.")
    if sniffed.format is AudioFormat.M4A and any(_is_real_video(s) for s in container.streams.video):
        raise UnsupportedAudio("MP4 video with a picture track: send an audio-only file (M4A) instead.")
    stream = container.streams.audio[0]
    decoder, rate = decoder_for(stream, path, sniffed.format)
    reported = _reported_format(sniffed.format, decoder)
    label = info.label if reported is sniffed.format else f"{FORMATS[reported].label} in {label}"
    channels = stream.codec_context.channels
    if not rate or not channels:
        raise UnsupportedAudio(f"The {label} file declares {rate} Hz and {channels} channel(s); it cannot be played.")
    meter = PeakMeter()
    decoded = _decode_all(container, stream, decoder, rate, label, time_limit, meter)
    if decoded == 0:
        raise UnsupportedAudio(f"The {label} file contains no decodable audio.")
    declared = declared_samples(path, sniffed.format)
    header = declared or _header_samples(container, stream, rate)
    header_ms = samples_to_ms(header, rate) if header else None
    samples = decoded
    if (info.exact_header or sniffed.variant == "xing" or declared) and header:
        if decoded < MIN_DECODED_SHARE * header:
            raise UnsupportedAudio(
                f"{label} truncated: header says {header_ms} ms, {samples_to_ms(decoded, rate)} ms decodable."
            )
        # A sample-exact header that agrees with the decode to within one codec frame states the
        # length without the encoder's end padding (MP4 edit lists, LAME's gapless info).
        if abs(decoded - header) <= max(decoder.frame_size or 0, _FRAME_SLACK):
            samples = header
    return AudioInfo(
        format=reported,
        mime_type=FORMATS[reported].mime_type,
        codec=decoder.name,
        sample_rate=rate,
        channels=channels,
        samples=samples,
        duration_ms=samples_to_ms(samples, rate),
        header_duration_ms=header_ms,
        description=sniffed.description,
        container=sniffed.format,
        peaks=meter.buckets(),
    )


def _reported_format(container: AudioFormat, decoder: Any) -> AudioFormat:
    """AMR in an MP4-family file (3GP, as MMS and Android recorders store it) is reported as AMR:
    "M4A" means AAC to every client, and the contract has no 3GP format. AMR in CAF stays CAF."""
    return AudioFormat.AMR if container is AudioFormat.M4A and is_amr(decoder) else container


def _decode_all(
    container: Any, stream: Any, decoder: Any, rate: int, label: str, time_limit: float, meter: PeakMeter
) -> int:
    deadline = time.monotonic() + time_limit
    samples = 0
    try:
        for packet in container.demux(stream):
            for frame in decoder.decode(packet if packet.size or packet.dts is not None else None):
                samples += frame.samples
                meter.add(frame)
            if time.monotonic() > deadline:
                raise UnsupportedAudio(
                    f"The {label} file took longer than {time_limit:.0f} s to decode; it is too long or broken."
                )
    except av.error.FFmpegError as exc:
        at = samples_to_ms(samples, rate)
        raise UnsupportedAudio(f"The {label} file is corrupt: decoding failed at {at} ms ({_reason(exc)}).") from exc
    return samples


def _header_samples(container: Any, stream: Any, rate: int) -> int | None:
    """The length the container states, in samples at the decoder's rate, if it states one."""
    if stream.duration is not None and stream.time_base is not None and stream.duration > 0:
        return round(Fraction(stream.duration) * Fraction(stream.time_base) * rate)
    if container.duration is not None and container.duration > 0:
        return round(Fraction(int(container.duration), 1_000_000) * rate)
    return None


def _is_real_video(stream: Any) -> bool:
    """Cover art in an M4A shows up as a one-picture video stream; that is still an audio file."""
    disposition = getattr(stream, "disposition", None)
    attached = getattr(av.stream.Disposition, "attached_pic", None) if hasattr(av, "stream") else None
    return not (disposition is not None and attached is not None and disposition & attached)


def _reason(exc: av.error.FFmpegError) -> str:
    text = getattr(exc, "strerror", None) or str(exc)
    return str(text).rstrip(".")
