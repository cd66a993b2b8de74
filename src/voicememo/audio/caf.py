"""Our own CAF writer (and reader) for Opus: FFmpeg 8 refuses Opus in CAF, FFmpeg 5.1 writes it wrong.

Layout, as Apple's afconvert writes a voice memo: ``caff`` header; ``desc`` (rate, 'opus',
flags 0, 0 bytes/packet = variable, frames/packet, 1 channel, 0 bits); ``chan`` (mono);
``data`` (edit count, packets; its size is patched when the stream ends, so the output
must be seekable); ``pakt`` (packet count, valid frames, priming, remainder, then each
packet's byte size as a variable-length integer).

Units: ``valid frames`` counts the input at the descriptor rate. FFmpeg's demuxer trims
``priming`` and ``remainder`` from its decoder's output, which for Opus is always 48 kHz,
so those two are written in 48 kHz samples; that way FFmpeg/PyAV decode our file back to
exactly the source length whichever descriptor rate (24000 or 48000) is chosen.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any, BinaryIO

OPUS_RATE = 48000
_MONO_LAYOUT = (100 << 16) | 1  # kAudioChannelLayoutTag_Mono
_DATA_HEADER = 12 + 4  # chunk header + edit count
_PAKT_HEADER = 24  # packets, valid frames, priming, remainder
_MAX_BER_BYTES = 9  # 63 bits: more than any real packet size


class CafError(Exception):
    """A CAF file we cannot read: not CAF, truncated, a chunk too short, a size that does not fit."""


def ber_length(value: int) -> bytes:
    """CAF's variable-length integer: 7 bits per byte, most significant first, high bit = more."""
    if value < 0:
        raise ValueError("packet sizes are never negative")
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    return bytes(reversed(out))


class CafOpusWriter:
    """Streams Opus packets into a CAF file; call :meth:`finish` once with the exact lengths."""

    def __init__(self, fh: BinaryIO, *, sample_rate: int, frames_per_packet: int, channels: int = 1) -> None:
        if sample_rate not in (8000, 12000, 16000, 24000, 48000):
            raise ValueError(f"Opus cannot run at {sample_rate} Hz")
        self.fh = fh
        self.sample_rate = sample_rate
        self.frames_per_packet = frames_per_packet
        self.sizes: list[int] = []
        self._data_bytes = 0
        fh.write(b"caff" + struct.pack(">HH", 1, 0))
        desc = struct.pack(">d4sIIIII", float(sample_rate), b"opus", 0, 0, frames_per_packet, channels, 0)
        fh.write(b"desc" + struct.pack(">q", len(desc)) + desc)
        chan = struct.pack(">III", _MONO_LAYOUT, 0, 0)
        fh.write(b"chan" + struct.pack(">q", len(chan)) + chan)
        self._data_at = fh.tell()
        fh.write(b"data" + struct.pack(">q", -1) + struct.pack(">I", 0))

    def write_packet(self, packet: bytes) -> None:
        if not packet:
            raise ValueError("empty Opus packet")
        self.fh.write(packet)
        self.sizes.append(len(packet))
        self._data_bytes += len(packet)

    def finish(self, valid_frames: int, priming_48k: int) -> None:
        """Write ``pakt`` and patch the ``data`` size; ``valid_frames`` at the descriptor rate."""
        scale = OPUS_RATE // self.sample_rate
        total_48k = len(self.sizes) * self.frames_per_packet * scale
        remainder_48k = total_48k - valid_frames * scale - priming_48k
        if remainder_48k < 0:
            raise ValueError("valid frames and priming exceed what the packets hold")
        table = b"".join(ber_length(size) for size in self.sizes)
        body = struct.pack(">qqii", len(self.sizes), valid_frames, priming_48k, remainder_48k) + table
        self.fh.write(b"pakt" + struct.pack(">q", len(body)) + body)
        end = self.fh.tell()
        self.fh.seek(self._data_at + 4)
        self.fh.write(struct.pack(">q", 4 + self._data_bytes))
        self.fh.seek(end)
        self.fh.flush()


@dataclass(frozen=True, slots=True)
class CafInfo:
    sample_rate: float
    format_id: bytes
    format_flags: int
    bytes_per_packet: int
    frames_per_packet: int
    channels: int
    channel_layout: int | None
    packets: int
    valid_frames: int
    priming: int
    remainder: int
    packet_sizes: tuple[int, ...]
    data_bytes: int


def read_caf(data: bytes) -> CafInfo:
    """Parse the chunks we write (used by the rendition check and the tests); CafError when malformed."""
    if len(data) < 8 or data[:4] != b"caff":
        raise CafError("not a CAF file")
    pos, desc, layout, pakt, data_bytes = 8, None, None, None, -1
    while pos < len(data):
        if pos + 12 > len(data):
            raise CafError(f"a chunk header is cut short at byte {pos}")
        kind, size = data[pos : pos + 4], struct.unpack_from(">q", data, pos + 4)[0]
        name = kind.decode("latin-1")
        body = pos + 12
        if size == -1 and kind == b"data":
            size = len(data) - body  # a data chunk still being written runs to the end of the file
        if size < 0:
            raise CafError(f"the {name!r} chunk has a negative size ({size})")
        if size > len(data) - body:
            raise CafError(f"the {name!r} chunk claims {size} bytes; {len(data) - body} remain")
        chunk = data[body : body + size]
        if kind == b"desc":
            desc = _unpack(">d4sIIIII", chunk, name)
        elif kind == b"chan":
            layout = _unpack(">I", chunk, name)[0]
        elif kind == b"data":
            _unpack(">I", chunk, name)  # the edit count comes before the packets
            data_bytes = size - 4
        elif kind == b"pakt":
            pakt = _read_pakt(chunk)
        pos = body + size
    if desc is None or pakt is None:
        raise CafError("CAF without desc or pakt")
    count, valid, priming, remainder, sizes = pakt
    return CafInfo(
        desc[0],
        desc[1],
        desc[2],
        desc[3],
        desc[4],
        desc[5],
        layout,
        count,
        valid,
        priming,
        remainder,
        sizes,
        data_bytes,
    )


def _unpack(layout: str, chunk: bytes, name: str) -> tuple[Any, ...]:
    if len(chunk) < struct.calcsize(layout):
        raise CafError(f"the {name!r} chunk is {len(chunk)} bytes, too short for its fields")
    return struct.unpack_from(layout, chunk)


def _read_pakt(body: bytes) -> tuple[int, int, int, int, tuple[int, ...]]:
    count, valid, priming, remainder = _unpack(">qqii", body, "pakt")
    table = len(body) - _PAKT_HEADER
    if not 0 <= count <= table:  # every packet size takes at least one byte
        raise CafError(f"the 'pakt' chunk lists {count} packets in a {table}-byte table")
    sizes: list[int] = []
    pos = _PAKT_HEADER
    for _ in range(count):
        value, start = 0, pos
        while True:
            if pos >= len(body):
                raise CafError(f"the 'pakt' table ends inside packet size {len(sizes) + 1} of {count}")
            if pos - start == _MAX_BER_BYTES:
                raise CafError(f"packet size {len(sizes) + 1} in 'pakt' runs over {_MAX_BER_BYTES} bytes")
            byte = body[pos]
            pos += 1
            value = (value << 7) | (byte & 0x7F)
            if not byte & 0x80:
                break
        sizes.append(value)
    return count, valid, priming, remainder, tuple(sizes)
