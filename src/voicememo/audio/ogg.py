"""Ogg/Opus previews for browsers (RFC 3533 pages, RFC 7845 Opus mapping), written by our own small
muxer so that the iMessage rendition's Opus packets go in byte for byte, with the pre-skip and end
trim of its CAF ``pakt``: the preview decodes to exactly what the recipient hears. The original is
encoded (mono, 48 kHz) by the same encoder as the renditions and trimmed to its measured length.

Runs in the audio worker processes (pure, synchronous).
"""

from __future__ import annotations

import contextlib
import struct
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, BinaryIO

from voicememo.audio.caf import OPUS_RATE, CafError, read_caf
from voicememo.audio.opus_encode import OpusEncoding
from voicememo.audio.probe import samples_to_ms
from voicememo.audio.render import RenditionFailed

_SERIAL = 0x766D656D  # any fixed stream serial: one logical stream per file
_VENDOR = b"voicememo"
#: a page is flushed once it holds this much audio data (RFC 7845 suggests pages of about a second or less)
_PAGE_BYTES = 4096


def _crc_table() -> tuple[int, ...]:
    table = []
    for i in range(256):
        crc = i << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7) if crc & 0x80000000 else crc << 1
        table.append(crc & 0xFFFFFFFF)
    return tuple(table)


_CRC = _crc_table()


def ogg_crc(data: bytes) -> int:
    """Ogg's CRC-32 (polynomial 0x04C11DB7, not reflected, no final xor: not zlib's)."""
    crc = 0
    table = _CRC
    for byte in data:
        crc = ((crc << 8) & 0xFFFFFFFF) ^ table[(crc >> 24) ^ byte]
    return crc


def _lacing(size: int) -> bytes:
    return b"\xff" * (size // 255) + bytes([size % 255])


class OggOpusWriter:
    """Opus packets into one Ogg logical stream. Call :meth:`finish` once with the final granule (pre-skip
    plus the exact length at 48 kHz): the decoder trims what the last page's packets hold beyond it."""

    def __init__(self, fh: BinaryIO, *, channels: int, pre_skip: int, input_rate: int) -> None:
        self.fh = fh
        self.channels = channels
        self._seq = 0
        self._packets: list[bytes] = []
        self._granule = 0  # at the end of the packets written so far
        self._pending_granule = 0
        self.packets = 0
        self._head_at = fh.tell()
        self._write_head(pre_skip, input_rate)
        tags = b"OpusTags" + struct.pack("<I", len(_VENDOR)) + _VENDOR + struct.pack("<I", 0)
        self._page([tags], granule=0, flags=0)

    def _write_head(self, pre_skip: int, input_rate: int) -> None:
        head = b"OpusHead" + struct.pack("<BBHIhB", 1, self.channels, pre_skip, input_rate, 0, 0)
        self._seq = 0
        self._page([head], granule=0, flags=0x02)

    def rewrite_pre_skip(self, pre_skip: int, input_rate: int) -> None:
        """Known only after encoding: the head page has a fixed size, so it is written again in place."""
        end, seq = self.fh.tell(), self._seq
        self.fh.seek(self._head_at)
        self._write_head(pre_skip, input_rate)
        self.fh.seek(end)
        self._seq = seq

    def write(self, packet: bytes, samples_48k: int) -> None:
        if not packet:
            raise ValueError("empty Opus packet")
        self._packets.append(packet)
        self._pending_granule += samples_48k
        self.packets += 1
        lacing = sum(len(p) // 255 + 1 for p in self._packets)
        if sum(len(p) for p in self._packets) >= _PAGE_BYTES or lacing > 200:
            self._flush(flags=0)

    def finish(self, final_granule: int) -> None:
        if not self._packets and self.packets == 0:
            raise ValueError("no Opus packets")
        self._pending_granule = final_granule - self._granule if self._packets else 0
        self._flush(flags=0x04, granule=final_granule)
        self.fh.flush()

    def _flush(self, *, flags: int, granule: int | None = None) -> None:
        self._granule = granule if granule is not None else self._granule + self._pending_granule
        self._pending_granule = 0
        self._page(self._packets, granule=self._granule, flags=flags)
        self._packets = []

    def _page(self, packets: Iterable[bytes], *, granule: int, flags: int) -> None:
        packets = list(packets)
        segments = b"".join(_lacing(len(p)) for p in packets)
        header = struct.pack("<4sBBqIIIB", b"OggS", 0, flags, granule, _SERIAL, self._seq, 0, len(segments))
        page = header + segments + b"".join(packets)
        crc = ogg_crc(page)
        self.fh.write(page[:22] + struct.pack("<I", crc) + page[26:])
        self._seq += 1


@dataclass(frozen=True, slots=True)
class OggPreview:
    duration_ms: int
    size_bytes: int
    packets: int
    pre_skip: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def caf_opus_packets(data: bytes) -> list[bytes]:
    """The Opus packets of a CAF file, in order (CafError when malformed)."""
    info = read_caf(data)
    pos = 8
    while pos + 12 <= len(data):
        kind, size = data[pos : pos + 4], struct.unpack_from(">q", data, pos + 4)[0]
        if kind == b"data":
            start = pos + 12 + 4  # past the edit count
            packets, at = [], start
            for n in info.packet_sizes:
                packets.append(data[at : at + n])
                at += n
            if at > len(data):
                raise CafError("the packet table runs past the data")
            return packets
        pos += 12 + size
    raise CafError("CAF without a data chunk")


def caf_opus_to_ogg(src: str | Path, dst: str | Path) -> OggPreview:
    """Remux a CAF-Opus rendition's packets into Ogg without re-encoding."""
    data = Path(src).read_bytes()
    try:
        info = read_caf(data)
        packets = caf_opus_packets(data)
    except CafError as exc:
        raise RenditionFailed(f"The rendition's CAF container is malformed ({exc}).") from exc
    if info.format_id != b"opus" or not packets:
        raise RenditionFailed("The rendition holds no Opus packets.")
    scale = OPUS_RATE // int(info.sample_rate)
    per_packet = info.frames_per_packet * scale
    valid_48k = info.valid_frames * scale
    with open(dst, "wb") as fh:
        writer = OggOpusWriter(fh, channels=info.channels, pre_skip=info.priming, input_rate=int(info.sample_rate))
        for packet in packets:
            writer.write(packet, per_packet)
        writer.finish(info.priming + valid_48k)
    return OggPreview(samples_to_ms(valid_48k, OPUS_RATE), Path(dst).stat().st_size, len(packets), info.priming)


def encode_ogg_opus(
    src: str | Path, dst: str | Path, *, samples: int, rate: int, bit_rate: int = 64000, threads: int = 1
) -> OggPreview:
    """Encode any accepted audio file to mono Ogg/Opus at 48 kHz, cut at its exact measured length."""
    limit = round(samples * OPUS_RATE / rate)
    encoding = OpusEncoding(src, rate=OPUS_RATE, bit_rate=bit_rate, limit=limit, threads=threads)
    with open(dst, "wb") as fh, contextlib.closing(encoding.packets()) as packets:
        writer = OggOpusWriter(fh, channels=1, pre_skip=0, input_rate=rate)
        for packet in packets:
            writer.write(packet, encoding.frames_per_packet)
        if writer.packets == 0:
            raise RenditionFailed("The audio produced no Opus packets.")
        writer.finish(encoding.priming_48k + encoding.fed)
        writer.rewrite_pre_skip(encoding.priming_48k, rate)
    return OggPreview(
        samples_to_ms(encoding.fed, OPUS_RATE), Path(dst).stat().st_size, writer.packets, encoding.priming_48k
    )


def make_preview(
    src: str, dst: str, source: str, *, samples: int = 0, rate: int = 0, bit_rate: int = 64000
) -> OggPreview:
    """The audio pool's entry point: ``source`` "imessage" (remux the CAF) or "original" (encode)."""
    if source == "imessage":
        return caf_opus_to_ogg(src, dst)
    if source == "original":
        return encode_ogg_opus(src, dst, samples=samples, rate=rate, bit_rate=bit_rate)
    raise ValueError(f"unknown preview source {source!r}")
