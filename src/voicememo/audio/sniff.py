"""Our own magic-byte sniffer: decides the format from the bytes, never from a name.

FFmpeg guesses a demuxer from the file name and will happily read a PNG renamed
``.mp3`` as garbage; we decide first and then force the demuxer. MP3 and ADTS have
no magic number, so they need two consecutive valid frame headers (after any ID3v2
tags) — one lucky 0xFFF sync is far too common in arbitrary data.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from voicememo.audio.formats import AudioFormat

HEAD_BYTES = 64 * 1024
_MAX_ZERO_PADDING = 64 * 1024

_MP3_BITRATES_V1 = (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320)
_MP3_BITRATES_V2 = (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160)
_MP3_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}


@dataclass(frozen=True, slots=True)
class Sniffed:
    """What the bytes are: an accepted format, or None with a description for the user."""

    format: AudioFormat | None
    description: str
    #: AMR: "nb" or "wb"; MP3: "xing" when a Xing/Info/VBRI header states the length
    variant: str = ""


def sniff_path(path: str | Path) -> Sniffed:
    with open(path, "rb") as fh:
        return sniff_stream(fh)


def sniff_stream(fh: BinaryIO) -> Sniffed:
    head = fh.read(HEAD_BYTES)
    if not head:
        return Sniffed(None, "an empty file (0 bytes)")
    found = _by_magic(head)
    if found is not None:
        return found
    start = _skip_id3(fh, head)
    if start != 0:
        fh.seek(start)
        head = fh.read(HEAD_BYTES)
    had_id3 = start != 0
    start = _skip_zeros(head)
    mpeg = _mpeg_audio(head, start)
    if mpeg is not None:
        return mpeg
    if _adts_frames(head, start):
        return Sniffed(AudioFormat.AAC, "AAC audio in ADTS frames")
    if had_id3:
        return Sniffed(None, "an ID3 tag with no MP3 audio frames after it")
    if _single_sync(head, start):
        return Sniffed(None, "a single MPEG/AAC frame header followed by invalid data (truncated or corrupt)")
    return Sniffed(None, _describe_other(head))


def _by_magic(b: bytes) -> Sniffed | None:
    if b[4:8] == b"ftyp":
        brand = b[8:12].decode("latin-1").strip() or "?"
        return Sniffed(AudioFormat.M4A, f"MP4 container (brand {brand!r})")
    if b.startswith(b"caff") and b[4:6] == b"\x00\x01":
        return Sniffed(AudioFormat.CAF, "Core Audio Format")
    if b[:4] in (b"RIFF", b"RF64", b"BW64") and b[8:12] == b"WAVE":
        return Sniffed(AudioFormat.WAV, "RIFF/WAVE")
    if b[:4] == b"FORM" and b[8:12] in (b"AIFF", b"AIFC"):
        return Sniffed(AudioFormat.AIFF, "AIFF-C" if b[8:12] == b"AIFC" else "AIFF")
    if b.startswith(b"#!AMR-WB\n"):
        return Sniffed(AudioFormat.AMR, "AMR-WB", "wb")
    if b.startswith(b"#!AMR\n"):
        return Sniffed(AudioFormat.AMR, "AMR-NB", "nb")
    if b.startswith(b"#!AMR_MC1.0\n") or b.startswith(b"#!AMR-WB_MC1.0\n"):
        return Sniffed(None, "multi-channel AMR, which is not supported (single-channel AMR is)")
    return None


def _skip_id3(fh: BinaryIO, head: bytes) -> int:
    """Offset just past any ID3v2 tags (several may follow each other). A tag header beyond the
    head is read where it is: a tag may claim 256 MB in a file of 30 bytes."""
    offset = 0
    while True:
        if offset + 10 <= len(head):
            block = head[offset : offset + 10]
        else:
            fh.seek(offset)
            block = fh.read(10)
        if len(block) < 10 or block[:3] != b"ID3" or block[3] == 0xFF or block[4] == 0xFF:
            return offset
        size_bytes = block[6:10]
        if any(x & 0x80 for x in size_bytes):
            return offset
        size = (size_bytes[0] << 21) | (size_bytes[1] << 14) | (size_bytes[2] << 7) | size_bytes[3]
        footer = 10 if block[5] & 0x10 else 0
        offset += 10 + size + footer


def _skip_zeros(b: bytes) -> int:
    i = 0
    while i < len(b) and i < _MAX_ZERO_PADDING and b[i] == 0:
        i += 1
    return i


def _mpeg_header(b: bytes, i: int) -> tuple[int, tuple[int, int]] | None:
    """(frame length, (version, sample-rate index)) of a valid MPEG-1/2/2.5 Layer III header at i."""
    if i + 4 > len(b) or b[i] != 0xFF or (b[i + 1] & 0xE0) != 0xE0:
        return None
    version = (b[i + 1] >> 3) & 3
    layer = (b[i + 1] >> 1) & 3
    bitrate_index = b[i + 2] >> 4
    rate_index = (b[i + 2] >> 2) & 3
    padding = (b[i + 2] >> 1) & 1
    if version == 1 or layer != 1 or bitrate_index in (0, 15) or rate_index == 3:
        return None
    rate = _MP3_RATES[version][rate_index]
    if version == 3:
        length = 144000 * _MP3_BITRATES_V1[bitrate_index] // rate + padding
    else:
        length = 72000 * _MP3_BITRATES_V2[bitrate_index] // rate + padding
    return length, (version, rate_index)


def _mpeg_audio(b: bytes, start: int) -> Sniffed | None:
    first = _mpeg_header(b, start)
    if first is None:
        return None
    second = _mpeg_header(b, start + first[0])
    if second is None or second[1] != first[1]:
        return None
    frame = b[start : start + first[0]]
    has_length = any(tag in frame for tag in (b"Xing", b"Info", b"VBRI"))
    return Sniffed(AudioFormat.MP3, "MP3 audio", "xing" if has_length else "")


def _adts_header(b: bytes, i: int) -> tuple[int, tuple[int, int]] | None:
    if i + 7 > len(b) or b[i] != 0xFF or (b[i + 1] & 0xF6) != 0xF0:
        return None
    profile = b[i + 2] >> 6
    rate_index = (b[i + 2] >> 2) & 0xF
    if rate_index > 12:
        return None
    length = ((b[i + 3] & 0x03) << 11) | (b[i + 4] << 3) | (b[i + 5] >> 5)
    header_len = 7 if b[i + 1] & 1 else 9
    if length <= header_len:
        return None
    return length, (profile, rate_index)


def _adts_frames(b: bytes, start: int) -> bool:
    first = _adts_header(b, start)
    if first is None:
        return False
    second = _adts_header(b, start + first[0])
    return second is not None and second[1] == first[1]


def _single_sync(b: bytes, start: int) -> bool:
    return _mpeg_header(b, start) is not None or _adts_header(b, start) is not None


_OTHER_MAGIC: tuple[tuple[bytes, int, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", 0, "a PNG image"),
    (b"\xff\xd8\xff", 0, "a JPEG image"),
    (b"GIF87a", 0, "a GIF image"),
    (b"GIF89a", 0, "a GIF image"),
    (b"%PDF-", 0, "a PDF document"),
    (b"PK\x03\x04", 0, "a ZIP archive (or an Office document)"),
    (b"\x1f\x8b", 0, "a gzip archive"),
    (b"7z\xbc\xaf\x27\x1c", 0, "a 7-Zip archive"),
    (b"OggS", 0, "Ogg audio (Opus or Vorbis), which is not supported"),
    (b"fLaC", 0, "FLAC audio, which is not supported"),
    (b"\x1a\x45\xdf\xa3", 0, "a Matroska/WebM file, which is not supported"),
    (b"MThd", 0, "a MIDI file"),
    (b"\x7fELF", 0, "an ELF executable"),
    (b"MZ", 0, "a Windows executable"),
    (b"BM", 0, "a BMP image"),
    (b"\x00\x00\x01\xba", 0, "an MPEG program stream (video)"),
    (b".snd", 0, "Sun/NeXT .au audio, which is not supported"),
)


def _describe_other(b: bytes) -> str:
    if b[:4] == b"RIFF":
        kind = b[8:12].decode("latin-1", "replace")
        names = {"WEBP": "a WebP image", "AVI ": "an AVI video"}
        return names.get(kind, f"a RIFF file of type {kind!r}, not WAVE")
    if b[:4] == b"FORM":
        return f"an IFF file of type {b[8:12].decode('latin-1', 'replace')!r}, not AIFF"
    for magic, offset, name in _OTHER_MAGIC:
        if b[offset : offset + len(magic)] == magic:
            return name
    text = b[:2048].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith((b"<!doctype html", b"<html", b"<head", b"<body")):
        return "an HTML page (the URL may point to a web page instead of the file)"
    if text.startswith(b"<?xml") or text.startswith(b"<"):
        return "XML or markup text"
    if text.startswith((b"{", b"[")):
        return "JSON text"
    if _looks_like_text(b[:2048]):
        return "plain text"
    return f"unrecognised binary data (first bytes: {b[:8].hex(' ')})"


def _looks_like_text(b: bytes) -> bool:
    try:
        decoded = b.decode("utf-8")
    except UnicodeDecodeError:
        return False
    printable = sum(ch.isprintable() or ch in "\r\n\t" for ch in decoded)
    return printable >= 0.95 * len(decoded)
