"""The CAF reader on malformed input: every defect is a CafError saying what is wrong, never a crash."""

from __future__ import annotations

import io
import struct
from pathlib import Path

import pytest

from voicememo.audio.caf import CafError, CafOpusWriter, read_caf
from voicememo.audio.render import RenditionFailed, _DecodeBack, _verify_caf


def good_caf() -> bytes:
    buf = io.BytesIO()
    writer = CafOpusWriter(buf, sample_rate=24000, frames_per_packet=480)
    for size in (10, 200, 129):
        writer.write_packet(b"\x01" * size)
    writer.finish(valid_frames=1200, priming_48k=312)
    return buf.getvalue()


def chunk(kind: bytes, body: bytes, size: int | None = None) -> bytes:
    return kind + struct.pack(">q", len(body) if size is None else size) + body


HEADER = b"caff\x00\x01\x00\x00"
DESC = chunk(b"desc", struct.pack(">d4sIIIII", 24000.0, b"opus", 0, 0, 480, 1, 0))
PAKT_HEAD = struct.pack(">qqii", 1, 480, 312, 0)


def _cut(at: int) -> bytes:
    return good_caf()[:at]


MALFORMED = {
    "empty": b"",
    "not caf": b"RIFF\x00\x00\x00\x00WAVE",
    "header only": HEADER,
    "chunk header cut": HEADER + b"desc\x00\x00",
    "desc body cut": HEADER + chunk(b"desc", b"\x00" * 8),
    "desc declared longer than the file": HEADER + chunk(b"desc", b"\x00" * 32, size=1000),
    "chan body cut": HEADER + DESC + chunk(b"chan", b"\x00\x01"),
    "pakt header cut": HEADER + DESC + chunk(b"pakt", b"\x00" * 10),
    "pakt table cut": HEADER + DESC + chunk(b"pakt", struct.pack(">qqii", 3, 1440, 312, 0) + b"\x0a"),
    "pakt varint never ends": HEADER + DESC + chunk(b"pakt", PAKT_HEAD + b"\x81\x82"),
    "pakt varint too long": HEADER + DESC + chunk(b"pakt", PAKT_HEAD + b"\xff" * 12 + b"\x01"),
    "pakt negative count": HEADER + DESC + chunk(b"pakt", struct.pack(">qqii", -5, 0, 0, 0)),
    "pakt absurd count": HEADER + DESC + chunk(b"pakt", struct.pack(">qqii", 2**62, 0, 0, 0) + b"\x01" * 8),
    "negative size mid-file": HEADER + chunk(b"chan", b"", size=-7) + DESC,
    "no pakt": HEADER + DESC,
    "no desc": HEADER + chunk(b"pakt", PAKT_HEAD + b"\x0a"),
    "cut inside pakt": _cut(len(good_caf()) - 2),
}


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_malformed_caf_is_a_caf_error(name: str) -> None:
    with pytest.raises(CafError):
        read_caf(MALFORMED[name])


def test_a_rendition_that_does_not_parse_fails_the_send(tmp_path: Path) -> None:
    path = tmp_path / "Audio Message.caf"
    path.write_bytes(good_caf()[:-2])
    with pytest.raises(RenditionFailed, match=r"^The rendition's CAF container is malformed \(.*\); it was not sent\."):
        _verify_caf(path, _DecodeBack(), 50, frame_ms=20, source_path=path)
