"""Decoding any accepted file the one right way: sniffed format, forced demuxer, opencore for AMR."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av
import av.error

from voicememo.audio.formats import FORMATS, AudioFormat
from voicememo.audio.sniff import Sniffed, sniff_path
from voicememo.errors import UnsupportedAudio

_AMR_DECODERS = {"nb": ("libopencore_amrnb", 8000), "wb": ("libopencore_amrwb", 16000)}


def decoder_for(stream: Any, sniffed: Sniffed) -> tuple[Any, int]:
    """The stream's own decoder, except AMR: FFmpeg's native AMR decoders reject DTX frames."""
    if sniffed.format is AudioFormat.AMR:
        name, rate = _AMR_DECODERS[sniffed.variant]
        ctx: Any = av.CodecContext.create(name, "r")
        ctx.sample_rate = rate
        ctx.layout = "mono"
        return ctx, rate
    ctx = stream.codec_context
    return ctx, int(ctx.sample_rate or 0)


def iter_frames(path: str | Path) -> Iterator[av.AudioFrame]:
    """Every decoded frame of an accepted audio file (already checked by the probe)."""
    sniffed = sniff_path(path)
    if sniffed.format is None:
        raise UnsupportedAudio(f"not audio: {sniffed.description}")
    label = FORMATS[sniffed.format].label
    try:
        with av.open(str(path), format=FORMATS[sniffed.format].demuxer, metadata_errors="ignore") as container:
            stream = container.streams.audio[0]
            decoder, _rate = decoder_for(stream, sniffed)
            for packet in container.demux(stream):
                yield from decoder.decode(packet if packet.size or packet.dts is not None else None)
    except av.error.FFmpegError as exc:
        raise UnsupportedAudio(f"The {label} file could not be decoded: {exc}") from exc
