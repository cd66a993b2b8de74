"""Decoding any accepted file the one right way: sniffed format, forced demuxer, decoder chosen by codec."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av
import av.error

from voicememo.audio.codec_tags import declared_codec
from voicememo.audio.formats import FORMATS, AudioFormat
from voicememo.audio.sniff import sniff_path
from voicememo.errors import UnsupportedAudio

#: FFmpeg's native AMR decoders reject DTX frames (comfort noise, no data), which every phone
#: recording has, whatever the container (raw AMR, 3GP, MP4, CAF); opencore decodes them exactly.
_OPENCORE = {
    "amrnb": ("libopencore_amrnb", 8000),
    "libopencore_amrnb": ("libopencore_amrnb", 8000),
    "amrwb": ("libopencore_amrwb", 16000),
    "libopencore_amrwb": ("libopencore_amrwb", 16000),
}


def decoder_for(stream: Any, path: str | Path, container: AudioFormat) -> tuple[Any, int]:
    """The stream's own decoder and rate, except AMR, which always goes to opencore.
    A stream FFmpeg has no decoder for is unsupported audio, named as the file names its codec."""
    ctx = stream.codec_context
    if ctx is None:
        label = "MP4" if container is AudioFormat.M4A else FORMATS[container].label
        named = declared_codec(path, container) or "a codec the file does not name"
        raise UnsupportedAudio(
            f"The {label} file holds audio in a codec that cannot be decoded here ({named}). "
            "Convert it to MP3, M4A (AAC) or WAV (PCM)."
        )
    opencore = _OPENCORE.get(ctx.name)
    if opencore is not None:
        name, rate = opencore
        amr: Any = av.CodecContext.create(name, "r")
        amr.sample_rate = rate
        amr.layout = "mono"
        return amr, rate
    return ctx, int(ctx.sample_rate or 0)


def is_amr(decoder: Any) -> bool:
    return decoder.name in _OPENCORE


def iter_frames(path: str | Path) -> Iterator[av.AudioFrame]:
    """Every decoded frame of an accepted audio file (already checked by the probe)."""
    sniffed = sniff_path(path)
    if sniffed.format is None:
        raise UnsupportedAudio(f"not audio: {sniffed.description}")
    label = FORMATS[sniffed.format].label
    try:
        with av.open(str(path), format=FORMATS[sniffed.format].demuxer, metadata_errors="ignore") as container:
            stream = container.streams.audio[0]
            decoder, _rate = decoder_for(stream, path, sniffed.format)
            for packet in container.demux(stream):
                yield from decoder.decode(packet if packet.size or packet.dts is not None else None)
    except av.error.FFmpegError as exc:
        raise UnsupportedAudio(f"The {label} file could not be decoded: {exc}") from exc
