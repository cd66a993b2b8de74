"""Test audio made at test time with PyAV's real encoders (nothing generated is committed).

The signal is speech-like: a voiced harmonic series with a syllable-rate envelope and
pauses, deterministic, so encoders behave as they do on a real voice memo.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np


def voice_signal(seconds: float, rate: int, channels: int = 1, seed: int = 7) -> np.ndarray:
    """float32 planar array (channels, n) in [-1, 1] that sounds roughly like talking."""
    n = round(seconds * rate)
    t = np.arange(n, dtype=np.float64) / rate
    rng = np.random.default_rng(seed)
    pitch = 140 + 25 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.pi * np.cumsum(pitch) / rate
    voiced = sum(np.sin(k * phase) / k for k in range(1, 12))
    syllables = np.clip(np.sin(2 * np.pi * 3.7 * t), 0, None) ** 0.6
    pauses = (np.sin(2 * np.pi * 0.31 * t) > -0.8).astype(np.float64)
    noise = rng.normal(0, 0.02, n)
    mono = (0.25 * voiced * syllables * pauses + noise).astype(np.float32)
    return np.clip(np.tile(mono, (channels, 1)), -1, 1)


@dataclass(frozen=True)
class Made:
    path: Path
    samples: int
    rate: int


def encode(
    path: Path,
    *,
    fmt: str,
    codec: str,
    seconds: float = 3.0,
    rate: int = 44100,
    channels: int = 1,
    bit_rate: int | None = None,
    codec_options: dict[str, str] | None = None,
    container_options: dict[str, str] | None = None,
    signal: np.ndarray | None = None,
) -> Made:
    """Encode the voice signal (or ``signal``) with a real encoder into a real container."""
    data = signal if signal is not None else voice_signal(seconds, rate, channels)
    layout = "mono" if data.shape[0] == 1 else "stereo"
    with av.open(str(path), "w", format=fmt, options=container_options or {}) as out:
        stream: Any = out.add_stream(codec, rate=rate, options=codec_options or {})
        stream.layout = layout
        if bit_rate:
            stream.bit_rate = bit_rate
        ctx = stream.codec_context
        wanted = ctx.format.name if ctx.format else "fltp"
        frame_size = ctx.frame_size or 1024
        total = data.shape[1]
        for start in range(0, total, frame_size):
            chunk = data[:, start : start + frame_size]
            frame = _frame(chunk, wanted, layout, rate)
            frame.pts = start
            frame.time_base = Fraction(1, rate)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return Made(path, data.shape[1], rate)


def _frame(chunk: np.ndarray, fmt: str, layout: str, rate: int) -> av.AudioFrame:
    planar = fmt.endswith("p")
    base = fmt.rstrip("p")
    if base == "flt":
        arr = chunk.astype(np.float32)
    elif base == "dbl":
        arr = chunk.astype(np.float64)
    elif base == "s16":
        arr = (chunk * 32767).astype(np.int16)
    elif base == "s32":
        arr = (chunk * 2147483647).astype(np.int32)
    elif base == "u8":
        arr = ((chunk * 127) + 128).astype(np.uint8)
    else:
        raise ValueError(f"no conversion for sample format {fmt}")
    if not planar:
        arr = arr.T.reshape(1, -1)
    frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(arr), format=fmt, layout=layout)
    frame.sample_rate = rate
    return frame


def make_corpus(directory: Path, seconds: float = 3.0) -> dict[str, Made]:
    """One file of every accepted format and variant the tests care about."""
    directory.mkdir(parents=True, exist_ok=True)
    d = directory
    s = seconds
    return {
        "mp3-xing": encode(d / "xing.mp3", fmt="mp3", codec="libmp3lame", seconds=s, bit_rate=64000),
        "mp3-noxing": encode(
            d / "noxing.mp3",
            fmt="mp3",
            codec="libmp3lame",
            seconds=s,
            bit_rate=64000,
            container_options={"write_xing": "0"},
        ),
        "mp3-vbr-noxing": encode(
            d / "vbr.mp3",
            fmt="mp3",
            codec="libmp3lame",
            seconds=s,
            rate=22050,
            codec_options={"abr": "1"},
            bit_rate=48000,
            container_options={"write_xing": "0"},
        ),
        "m4a-moov-last": encode(d / "last.m4a", fmt="ipod", codec="aac", seconds=s, bit_rate=64000),
        "m4a-moov-first": encode(
            d / "first.m4a",
            fmt="ipod",
            codec="aac",
            seconds=s,
            bit_rate=64000,
            container_options={"movflags": "+faststart"},
        ),
        "adts": encode(d / "speech.aac", fmt="adts", codec="aac", seconds=s, bit_rate=64000),
        "wav-s16": encode(d / "s16.wav", fmt="wav", codec="pcm_s16le", seconds=s),
        "wav-s24-stereo": encode(d / "s24.wav", fmt="wav", codec="pcm_s24le", seconds=s, rate=48000, channels=2),
        "wav-f32": encode(d / "f32.wav", fmt="wav", codec="pcm_f32le", seconds=s, rate=16000),
        "wav-u8": encode(d / "u8.wav", fmt="wav", codec="pcm_u8", seconds=s, rate=8000),
        "wav-mulaw": encode(d / "mulaw.wav", fmt="wav", codec="pcm_mulaw", seconds=s, rate=8000),
        "aiff": encode(d / "speech.aiff", fmt="aiff", codec="pcm_s16be", seconds=s),
        "aifc": encode(d / "speech.aifc", fmt="aiff", codec="pcm_f32be", seconds=s, rate=22050),
        "caf-pcm": encode(d / "pcm.caf", fmt="caf", codec="pcm_s16le", seconds=s, rate=48000),
        "amr-nb": encode(d / "speech.amr", fmt="amr", codec="libopencore_amrnb", seconds=s, rate=8000, bit_rate=12200),
        "amr-nb-dtx": encode(
            d / "dtx.amr",
            fmt="amr",
            codec="libopencore_amrnb",
            rate=8000,
            bit_rate=12200,
            codec_options={"dtx": "1"},
            signal=with_silence(voice_signal(s, 8000), 8000, 3.0),
        ),
    }


def remux(
    src: Path, dst: Path, fmt: str, *, brand: bytes | None = None, container_options: dict[str, str] | None = None
) -> Path:
    """Copy every packet of ``src`` into another container unchanged, as a phone's recorder would store
    the same frames (3GP for MMS, QuickTime, CAF); ``brand`` rewrites an MP4 file's major brand."""
    with av.open(str(src)) as source, av.open(str(dst), "w", format=fmt, options=container_options or {}) as out:
        audio = source.streams.audio[0]
        stream = out.add_stream_from_template(audio)
        for packet in source.demux(audio):
            if packet.dts is None:
                continue  # the demuxer's end-of-stream marker, not a frame
            packet.stream = stream
            out.mux(packet)
    if brand is not None:
        data = bytearray(dst.read_bytes())
        assert data[4:8] == b"ftyp" and len(brand) == 4
        data[8:12] = brand
        dst.write_bytes(bytes(data))
    return dst


def with_silence(signal: np.ndarray, rate: int, gap_seconds: float) -> np.ndarray:
    """speech, digital silence, speech: the pattern that makes a phone encoder emit DTX frames."""
    gap = np.zeros((signal.shape[0], round(gap_seconds * rate)), dtype=signal.dtype)
    return np.concatenate([signal, gap, signal], axis=1)
