"""The byte sniffer: every accepted format by its bytes, and a useful name for everything else."""

from __future__ import annotations

import io
import struct
import tracemalloc
from pathlib import Path

import pytest

from audiogen import Made
from voicememo.audio.formats import AudioFormat
from voicememo.audio.sniff import sniff_path, sniff_stream

EXPECTED = {
    "mp3-xing": (AudioFormat.MP3, "xing"),
    "mp3-noxing": (AudioFormat.MP3, ""),
    "mp3-vbr-noxing": (AudioFormat.MP3, ""),
    "m4a-moov-last": (AudioFormat.M4A, ""),
    "m4a-moov-first": (AudioFormat.M4A, ""),
    "adts": (AudioFormat.AAC, ""),
    "wav-s16": (AudioFormat.WAV, ""),
    "wav-s24-stereo": (AudioFormat.WAV, ""),
    "wav-f32": (AudioFormat.WAV, ""),
    "wav-u8": (AudioFormat.WAV, ""),
    "wav-mulaw": (AudioFormat.WAV, ""),
    "aiff": (AudioFormat.AIFF, ""),
    "aifc": (AudioFormat.AIFF, ""),
    "caf-pcm": (AudioFormat.CAF, ""),
    "amr-nb": (AudioFormat.AMR, "nb"),
    "amr-nb-dtx": (AudioFormat.AMR, "nb"),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_generated_format_is_recognised(corpus: dict[str, Made], name: str) -> None:
    found = sniff_path(corpus[name].path)
    assert (found.format, found.variant) == EXPECTED[name]


def test_amr_wb(amr_wb_dtx: Path) -> None:
    found = sniff_path(amr_wb_dtx)
    assert (found.format, found.variant) == (AudioFormat.AMR, "wb")


def test_aifc_is_described_as_aifc(corpus: dict[str, Made]) -> None:
    assert sniff_path(corpus["aifc"].path).description == "AIFF-C"


def test_name_is_irrelevant(corpus: dict[str, Made], tmp_path: Path) -> None:
    renamed = tmp_path / "memo.m4a"
    renamed.write_bytes(corpus["wav-s16"].path.read_bytes())
    assert sniff_path(renamed).format is AudioFormat.WAV


def id3v2_tag(payload_size: int) -> bytes:
    size = bytes(((payload_size >> s) & 0x7F) for s in (21, 14, 7, 0))
    return b"ID3\x04\x00\x00" + size + b"\x00" * payload_size


@pytest.mark.parametrize("tag_size", [100, 200_000])
def test_mp3_after_id3_tag_small_and_larger_than_the_head(corpus: dict[str, Made], tag_size: int) -> None:
    data = id3v2_tag(tag_size) + corpus["mp3-noxing"].path.read_bytes()
    assert sniff_stream(io.BytesIO(data)).format is AudioFormat.MP3


def test_two_id3_tags_then_mp3(corpus: dict[str, Made]) -> None:
    data = id3v2_tag(50) + id3v2_tag(70) + corpus["mp3-noxing"].path.read_bytes()
    assert sniff_stream(io.BytesIO(data)).format is AudioFormat.MP3


def test_adts_after_id3_tag(corpus: dict[str, Made]) -> None:
    data = id3v2_tag(64) + corpus["adts"].path.read_bytes()
    assert sniff_stream(io.BytesIO(data)).format is AudioFormat.AAC


def test_id3_tag_without_audio() -> None:
    found = sniff_stream(io.BytesIO(id3v2_tag(100) + b"hello world, not audio"))
    assert found.format is None
    assert "ID3 tag with no MP3 audio" in found.description


def test_an_id3_tag_claiming_256_mb_costs_no_memory() -> None:
    """A 30-byte upload whose ID3 header claims the largest size (2**28 - 1) once made the sniffer
    build a 256 MB buffer of zeros to look for the next tag."""
    data = b"ID3\x04\x00\x00\x7f\x7f\x7f\x7f" + b"\x00" * 20
    tracemalloc.start()
    try:
        found = sniff_stream(io.BytesIO(data))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert found.description == "an ID3 tag with no MP3 audio frames after it"
    assert peak < 1_000_000


def test_one_mp3_frame_header_is_not_enough() -> None:
    # MPEG-1 Layer III, 128 kb/s, 44.1 kHz: a valid header whose frame is followed by junk
    data = b"\xff\xfb\x90\x64" + b"\x00\x11" * 2000
    found = sniff_stream(io.BytesIO(data))
    assert found.format is None
    assert "single MPEG/AAC frame header" in found.description


def test_random_sync_words_are_not_mp3() -> None:
    # 0xFFFB looks like an MPEG-1 Layer III sync, but the next frame is not where the length says.
    data = b"\xff\xfb\x90\x00" + bytes(range(256)) * 10
    assert sniff_stream(io.BytesIO(data)).format is None


PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
NOT_AUDIO = [
    (b"", "an empty file (0 bytes)"),
    (PNG, "a PNG image"),
    (b"\xff\xd8\xff\xe0" + b"\x00" * 32, "a JPEG image"),
    (b"GIF89a" + b"\x00" * 20, "a GIF image"),
    (b"%PDF-1.7\n", "a PDF document"),
    (b"PK\x03\x04" + b"\x00" * 20, "a ZIP archive (or an Office document)"),
    (b"OggS\x00\x02" + b"\x00" * 30, "Ogg audio (Opus or Vorbis), which is not supported"),
    (b"fLaC\x00\x00\x00\x22" + b"\x00" * 30, "FLAC audio, which is not supported"),
    (b"\x1a\x45\xdf\xa3" + b"\x00" * 30, "a Matroska/WebM file, which is not supported"),
    (
        b"  <!DOCTYPE html><html><body>404</body></html>",
        "an HTML page (the URL may point to a web page instead of the file)",
    ),
    (b'{"error": "not found"}', "JSON text"),
    (b"just some words\n", "plain text"),
    (b"RIFF\x10\x00\x00\x00WEBPVP8 ", "a WebP image"),
    (b"RIFF\x10\x00\x00\x00AVI LIST", "an AVI video"),
    (b"FORM\x00\x00\x00\x10ILBMBMHD", "an IFF file of type 'ILBM', not AIFF"),
    (b"#!AMR_MC1.0\n\x00\x00\x00\x01", "multi-channel AMR, which is not supported (single-channel AMR is)"),
]


@pytest.mark.parametrize(("data", "description"), NOT_AUDIO, ids=[d for _, d in NOT_AUDIO])
def test_not_audio_is_named(data: bytes, description: str) -> None:
    found = sniff_stream(io.BytesIO(data))
    assert found.format is None
    assert found.description == description


def test_unknown_binary_shows_its_first_bytes() -> None:
    found = sniff_stream(io.BytesIO(struct.pack(">8B", 1, 2, 3, 4, 5, 6, 7, 8) + b"\x00\xff" * 40))
    assert found.format is None
    assert found.description.endswith("(first bytes: 01 02 03 04 05 06 07 08)")
