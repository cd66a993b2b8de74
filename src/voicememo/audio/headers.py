"""Lengths that WAV and CAF headers declare, read from the chunks themselves.

FFmpeg clamps these containers' durations to the bytes actually present, so a
truncated upload looks complete to it; the declared data size tells the truth.
"""

from __future__ import annotations

import struct
from pathlib import Path

from voicememo.audio.formats import AudioFormat

_UNKNOWN_SIZES = {0, 0xFFFFFFFF}


def declared_samples(path: str | Path, fmt: AudioFormat) -> int | None:
    """Samples per channel the header promises, or None when it does not say."""
    with open(path, "rb") as fh:
        head = fh.read(64 * 1024)
    if fmt is AudioFormat.WAV and head[:4] == b"RIFF":
        return _wav(head)
    if fmt is AudioFormat.CAF:
        return _caf(head)
    return None


def _wav(head: bytes) -> int | None:
    offset, block_align, data_size = 12, 0, None
    while offset + 8 <= len(head):
        chunk_id, size = head[offset : offset + 4], struct.unpack_from("<I", head, offset + 4)[0]
        if chunk_id == b"fmt " and offset + 8 + 14 <= len(head):
            block_align = struct.unpack_from("<H", head, offset + 8 + 12)[0]
        elif chunk_id == b"data":
            data_size = size
            break
        offset += 8 + size + (size & 1)
    if not block_align or data_size is None or data_size in _UNKNOWN_SIZES:
        return None
    return int(data_size // block_align)


def _caf(head: bytes) -> int | None:
    offset, bytes_per_packet, frames_per_packet = 8, 0, 0
    while offset + 12 <= len(head):
        chunk_id, size = head[offset : offset + 4], struct.unpack_from(">q", head, offset + 4)[0]
        body = offset + 12
        if chunk_id == b"desc" and body + 32 <= len(head):
            _rate, _codec, _flags, bytes_per_packet, frames_per_packet = struct.unpack_from(">d4sIII", head, body)
        elif chunk_id == b"data":
            if size < 0 or not bytes_per_packet or not frames_per_packet:
                return None  # size unknown (-1), or a variable packet size described by 'pakt'
            return int((size - 4) // bytes_per_packet * frames_per_packet)
        if size < 0:
            return None
        offset = body + size
    return None
