"""The codec a file declares, in the container's own terms, to name one that no decoder here reads.

FFmpeg leaves a stream in an unknown codec without a decoder and without a name
(PyAV shows no codec at all), so a refusal would only say "unknown". The container
says more: a CAF format id, a WAVE format tag or WAVE_FORMAT_EXTENSIBLE subformat
GUID, an MP4 sample entry. Best effort: anything unreadable is simply not named.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import BinaryIO

from voicememo.audio.formats import AudioFormat

_HEAD = 64 * 1024
_MAX_MOOV = 16 * 1024 * 1024
_MAX_TOP_BOXES = 256  # a real file has a handful (ftyp, free, wide, mdat, moov, udta)
#: a KSDATAFORMAT_SUBTYPE_* GUID, as stored, is a 16-bit WAVE format tag followed by these 14 bytes
_WAVE_GUID_TAIL = bytes.fromhex("000000001000800000aa00389b71")
_MP4_CONTAINERS = (b"moov", b"trak", b"mdia", b"minf", b"stbl")


def declared_codec(path: str | Path, fmt: AudioFormat) -> str | None:
    """``"CAF format 'sawb'"``, ``"WAVE format tag 0x7A7A"``, …, or None when the file does not say."""
    try:
        with open(path, "rb") as fh:
            if fmt is AudioFormat.M4A:
                return _mp4(fh)
            head = fh.read(_HEAD)
    except OSError:
        return None
    if fmt is AudioFormat.CAF:
        return _caf(head)
    if fmt is AudioFormat.WAV:
        return _wav(head)
    return None


def fourcc(tag: bytes) -> str:
    """A four-character code as text when it is printable, else as hex."""
    text = tag.decode("latin-1")
    return repr(text) if text.isprintable() else "0x" + tag.hex().upper()


def _caf(head: bytes) -> str | None:
    offset = 8
    while offset + 12 <= len(head):
        kind, size = head[offset : offset + 4], struct.unpack_from(">q", head, offset + 4)[0]
        if kind == b"desc" and offset + 12 + 12 <= len(head):
            return f"CAF format {fourcc(head[offset + 20 : offset + 24])}"
        if size < 0:
            return None
        offset += 12 + size
    return None


def _wav(head: bytes) -> str | None:
    offset = 12
    while offset + 8 <= len(head):
        kind, size = head[offset : offset + 4], struct.unpack_from("<I", head, offset + 4)[0]
        body = offset + 8
        if kind == b"fmt " and body + 2 <= len(head):
            tag = struct.unpack_from("<H", head, body)[0]
            if tag != 0xFFFE:
                return f"WAVE format tag 0x{tag:04X}"
            if size < 40 or body + 40 > len(head):
                return "WAVE_FORMAT_EXTENSIBLE without a subformat"
            guid = head[body + 24 : body + 40]
            if guid[2:] == _WAVE_GUID_TAIL:
                return f"WAVE_FORMAT_EXTENSIBLE subformat 0x{struct.unpack_from('<H', guid)[0]:04X}"
            return f"WAVE_FORMAT_EXTENSIBLE subformat {_guid(guid)}"
        offset = body + size + (size & 1)
    return None


def _guid(raw: bytes) -> str:
    """A GUID as Windows writes it: the first three fields are stored little-endian."""
    a, b, c = struct.unpack_from("<IHH", raw)
    return f"{{{a:08X}-{b:04X}-{c:04X}-{raw[8:10].hex().upper()}-{raw[10:16].hex().upper()}}}"


def _mp4(fh: BinaryIO) -> str | None:
    """The first sound track's first sample entry (moov may be anywhere at the top level)."""
    fh.seek(0, 2)
    end = fh.tell()
    offset = 0
    for _ in range(_MAX_TOP_BOXES):
        if offset + 8 > end:
            return None
        fh.seek(offset)
        kind, size = _box_header(fh.read(16), end - offset)
        if size < 8:
            return None
        if kind == b"moov":
            if size > _MAX_MOOV:
                return None
            fh.seek(offset)
            return _sound_entry(fh.read(size))
        offset += size
    return None


def _box_header(raw: bytes, room: int) -> tuple[bytes, int]:
    """(type, size) of the box starting ``raw``; size 0 means "to the end", 1 a 64-bit size."""
    if len(raw) < 8:
        return b"", 0
    size, kind = struct.unpack_from(">I4s", raw)
    if size == 1:
        size = struct.unpack_from(">Q", raw, 8)[0] if len(raw) >= 16 else 0
    elif size == 0:
        size = room
    return kind, min(size, room)


def _sound_entry(moov: bytes) -> str | None:
    entries: list[str] = []
    _walk(moov, 0, len(moov), entries, sound=False)
    return entries[0] if entries else None


def _walk(data: bytes, start: int, stop: int, found: list[str], *, sound: bool) -> None:
    """Collect the stsd sample entry of each track whose handler ('hdlr', before 'minf') is 'soun'."""
    offset = start
    while offset + 8 <= stop:
        kind, size = _box_header(data[offset : offset + 16], stop - offset)
        if size < 8:
            break
        header = 16 if struct.unpack_from(">I", data, offset)[0] == 1 else 8
        body = offset + header
        if kind == b"hdlr" and body + 12 <= stop:
            sound = data[body + 8 : body + 12] == b"soun"
        elif kind == b"stsd" and sound and body + 16 <= stop:
            found.append(f"MP4 sample entry {fourcc(data[body + 12 : body + 16])}")
        elif kind in _MP4_CONTAINERS:
            _walk(data, body, offset + size, found, sound=sound and kind != b"trak")
        offset += size
