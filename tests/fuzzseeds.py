"""Seed files for fuzzing the audio intake: short real files of every accepted container, made at run time.

Shared by the bounded hypothesis tests (tests/unit/test_fuzz_audio.py) and the longer atheris
runs (fuzz/). Short (0.3 s) so that each mutated file decodes in milliseconds.
"""

from __future__ import annotations

import struct
from pathlib import Path

from audiogen import encode, remux, voice_signal, with_silence
from bitstreams import AMR_NB_SIZES, AMR_WB_SIZES
from voicememo.audio.render import render_imessage

SECONDS = 0.3
#: the four-character codes whose neighbouring size fields the chunk-size mutation aims at
CHUNK_TAGS = (
    b"RIFF",
    b"fmt ",
    b"data",
    b"FORM",
    b"COMM",
    b"SSND",
    b"desc",
    b"chan",
    b"pakt",
    b"kuki",
    b"ftyp",
    b"moov",
    b"trak",
    b"mdia",
    b"minf",
    b"stbl",
    b"stsd",
    b"stsz",
    b"stco",
    b"stts",
    b"mdat",
    b"samr",
    b"mp4a",
    b"ID3",
    b"Xing",
    b"Info",
)


def make_seeds(directory: Path) -> dict[str, Path]:
    """One short file per container and codec the intake accepts, plus our own Opus CAF rendition."""
    directory.mkdir(parents=True, exist_ok=True)
    d, s = directory, SECONDS
    seeds = {
        "mp3-xing": encode(d / "xing.mp3", fmt="mp3", codec="libmp3lame", seconds=s, bit_rate=32000).path,
        "mp3-noxing": encode(
            d / "noxing.mp3",
            fmt="mp3",
            codec="libmp3lame",
            seconds=s,
            rate=22050,
            bit_rate=32000,
            container_options={"write_xing": "0"},
        ).path,
        "m4a": encode(d / "last.m4a", fmt="ipod", codec="aac", seconds=s, bit_rate=32000).path,
        "m4a-faststart": encode(
            d / "first.m4a",
            fmt="ipod",
            codec="aac",
            seconds=s,
            rate=16000,
            bit_rate=24000,
            container_options={"movflags": "+faststart"},
        ).path,
        "adts": encode(d / "speech.aac", fmt="adts", codec="aac", seconds=s, rate=16000, bit_rate=24000).path,
        "wav": encode(d / "s16.wav", fmt="wav", codec="pcm_s16le", seconds=s, rate=8000).path,
        "wav-f32-stereo": encode(d / "f32.wav", fmt="wav", codec="pcm_f32le", seconds=s, rate=8000, channels=2).path,
        "aiff": encode(d / "speech.aiff", fmt="aiff", codec="pcm_s16be", seconds=s, rate=8000).path,
        "caf-pcm": encode(d / "pcm.caf", fmt="caf", codec="pcm_s16le", seconds=s, rate=8000).path,
        "amr-nb-dtx": encode(
            d / "dtx.amr",
            fmt="amr",
            codec="libopencore_amrnb",
            rate=8000,
            bit_rate=12200,
            codec_options={"dtx": "1"},
            signal=with_silence(voice_signal(s, 8000), 8000, 0.5),
        ).path,
    }
    seeds["amr-3gp"] = remux(seeds["amr-nb-dtx"], d / "mms.3gp", "3gp")
    seeds["amr-caf"] = remux(seeds["amr-nb-dtx"], d / "amr.caf", "caf")
    awb = Path(__file__).parent / "fixtures" / "audio" / "speech-dtx.awb"
    seeds["amr-wb"] = d / "speech.awb"
    seeds["amr-wb"].write_bytes(whole_amr_frames(awb.read_bytes(), 1200))
    seeds["opus-caf"] = d / "Audio Message.caf"
    render_imessage(seeds["wav"], seeds["opus-caf"])
    seeds["wav-extensible"] = d / "extensible.wav"
    seeds["wav-extensible"].write_bytes(wav_extensible(seeds["wav"].read_bytes()))
    return seeds


def whole_amr_frames(data: bytes, at_least: int) -> bytes:
    """The start of a raw AMR file, cut after the first frame that ends past ``at_least`` bytes."""
    wide = data.startswith(b"#!AMR-WB\n")
    pos, sizes = (9, AMR_WB_SIZES) if wide else (6, AMR_NB_SIZES)
    while pos < min(at_least, len(data)):
        pos += 1 + sizes[(data[pos] >> 3) & 0x0F]
    return data[:pos]


def wav_extensible(plain: bytes) -> bytes:
    """The same PCM as a WAVE_FORMAT_EXTENSIBLE file (subformat KSDATAFORMAT_SUBTYPE_PCM)."""
    fmt_at = plain.index(b"fmt ")
    data_at = plain.index(b"data")
    tag, channels, rate, byte_rate, align, bits = struct.unpack_from("<HHIIHH", plain, fmt_at + 8)
    assert tag == 1
    guid = struct.pack("<H", 1) + bytes.fromhex("000000001000800000aa00389b71")
    fmt = struct.pack("<HHIIHH", 0xFFFE, channels, rate, byte_rate, align, bits)
    fmt += struct.pack("<HHI", 22, bits, 4 if channels == 1 else 3) + guid
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + plain[data_at:]
    return b"RIFF" + struct.pack("<I", len(body)) + body
