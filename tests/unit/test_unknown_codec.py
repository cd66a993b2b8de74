"""Audio in a codec no decoder here reads: refused as unsupported audio (5004), naming the codec as the file does."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from audiogen import Made, remux
from voicememo.audio.probe import probe_file
from voicememo.errors import UnsupportedAudio

PCM_GUID_TAIL = bytes.fromhex("000000001000800000aa00389b71")  # KSDATAFORMAT_SUBTYPE_* after the tag


def caf(format_id: bytes, rate: float = 8000.0, payload: bytes = b"\x01\x02" * 800) -> bytes:
    desc = struct.pack(">d4sIIIII", rate, format_id, 0, 2, 1, 1, 16)
    return (
        b"caff\x00\x01\x00\x00"
        + b"desc"
        + struct.pack(">q", len(desc))
        + desc
        + b"data"
        + struct.pack(">q", 4 + len(payload))
        + b"\x00" * 4
        + payload
    )


def wav(tag: int, guid: bytes | None = None, payload: bytes = b"\x01\x02" * 800) -> bytes:
    fmt = struct.pack("<HHIIHH", tag, 1, 8000, 16000, 2, 16)
    if guid is not None:
        fmt += struct.pack("<HHI", 22, 16, 4) + guid
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(payload)) + payload
    return b"RIFF" + struct.pack("<I", len(body)) + body


def aifc(compression: bytes, payload: bytes = b"\x01\x02" * 800) -> bytes:
    rate = b"\x40\x0b\xfa\x00\x00\x00\x00\x00\x00\x00"  # 8000.0 as an 80-bit float
    comm = struct.pack(">hIh", 1, len(payload) // 2, 16) + rate + compression + b"\x00\x00"
    ssnd = struct.pack(">II", 0, 0) + payload
    body = b"AIFC" + b"FVER" + struct.pack(">II", 4, 0xA2805140)
    body += b"COMM" + struct.pack(">I", len(comm)) + comm + b"SSND" + struct.pack(">I", len(ssnd)) + ssnd
    return b"FORM" + struct.pack(">I", len(body)) + body


UNKNOWN = [
    (
        "caf-unknown-id",
        lambda: caf(b"zzzz"),
        r"^The CAF file holds audio in a codec that cannot be decoded here \(CAF format 'zzzz'\)",
    ),
    ("caf-amr-wb", lambda: caf(b"sawb", 16000.0), r"\(CAF format 'sawb'\)"),
    (
        "wav-extensible-unknown-guid",
        lambda: wav(0xFFFE, bytes(range(16))),
        r"^The WAV file holds audio in a codec that cannot be decoded here "
        r"\(WAVE_FORMAT_EXTENSIBLE subformat \{03020100-0504-0706-0809-0A0B0C0D0E0F\}\)",
    ),
    (
        "wav-extensible-unknown-tag",
        lambda: wav(0xFFFE, struct.pack("<H", 0x7A7A) + PCM_GUID_TAIL),
        r"\(WAVE_FORMAT_EXTENSIBLE subformat 0x7A7A\)",
    ),
    ("wav-unknown-tag", lambda: wav(0x7A7A), r"\(WAVE format tag 0x7A7A\)"),
    # FFmpeg's AIFF demuxer already refuses an unknown compression type when opening the file
    ("aifc-unknown-compression", lambda: aifc(b"zzzz"), r"^The AIFF file could not be opened"),
]


@pytest.mark.parametrize(("name", "build", "message"), UNKNOWN, ids=[u[0] for u in UNKNOWN])
def test_an_unknown_codec_is_unsupported_audio_naming_it(
    tmp_path: Path, name: str, build: object, message: str
) -> None:
    assert callable(build)
    path = tmp_path / name
    path.write_bytes(build())
    with pytest.raises(UnsupportedAudio, match=message) as info:
        probe_file(path)
    assert info.value.code == 5004


def test_an_unknown_sample_entry_in_mp4_is_named(corpus: dict[str, Made], tmp_path: Path) -> None:
    data = remux(corpus["amr-nb"].path, tmp_path / "memo.3gp", "3gp").read_bytes()
    assert data.count(b"samr") == 1
    path = tmp_path / "unknown.3gp"
    path.write_bytes(data.replace(b"samr", b"zzzz"))
    with pytest.raises(UnsupportedAudio, match=r"^The MP4 file holds audio in .* \(MP4 sample entry 'zzzz'\)"):
        probe_file(path)
