"""Our Ogg/Opus muxer: the page checksum is Ogg's, FFmpeg's own Ogg pages check out under it, and the
end-trim granule makes a decoder stop at the exact length."""

from __future__ import annotations

import io
import struct
from pathlib import Path

import av
import numpy as np

from audiogen import encode
from voicememo.audio.caf import OPUS_RATE
from voicememo.audio.ogg import OggOpusWriter, encode_ogg_opus, ogg_crc
from voicememo.audio.probe import probe_file


def pages(data: bytes) -> list[tuple[int, int, bytes]]:
    """(header flags, granule, whole page) of every page."""
    out, pos = [], 0
    while pos < len(data):
        assert data[pos : pos + 4] == b"OggS"
        flags, granule = data[pos + 5], struct.unpack_from("<q", data, pos + 6)[0]
        count = data[pos + 26]
        size = 27 + count + sum(data[pos + 27 : pos + 27 + count])
        out.append((flags, granule, data[pos : pos + size]))
        pos += size
    return out


def checksum_ok(page: bytes) -> bool:
    stated = struct.unpack_from("<I", page, 22)[0]
    return ogg_crc(page[:22] + b"\0\0\0\0" + page[26:]) == stated


def test_the_checksum_is_oggs_crc32() -> None:
    # CRC-32/POSIX without its final inversion: 0x765E7680 ^ 0xFFFFFFFF
    assert ogg_crc(b"123456789") == 0x89A1897F


def test_ffmpegs_own_ogg_pages_pass_our_checksum(tmp_path: Path) -> None:
    made = encode(tmp_path / "ff.ogg", fmt="ogg", codec="libopus", rate=48000, seconds=1.5)
    found = pages(made.path.read_bytes())
    assert len(found) >= 3 and all(checksum_ok(p) for _, _, p in found)


def test_our_pages_are_well_formed_and_trim_to_the_exact_length(tmp_path: Path) -> None:
    src = encode(tmp_path / "speech.wav", fmt="wav", codec="pcm_s16le", rate=44100, seconds=2.345).path
    info = probe_file(src)
    dst = tmp_path / "out.ogg"
    made = encode_ogg_opus(src, dst, samples=info.samples, rate=info.sample_rate)
    found = pages(dst.read_bytes())
    assert all(checksum_ok(p) for _, _, p in found)
    assert found[0][0] == 0x02 and found[-1][0] == 0x04  # first and last page
    assert found[0][2][28:36] == b"OpusHead" and found[1][2][28:36] == b"OpusTags"
    pre_skip = struct.unpack_from("<H", found[0][2], 28 + 10)[0]
    assert pre_skip == made.pre_skip > 0
    exact_48k = round(info.samples * OPUS_RATE / info.sample_rate)
    assert found[-1][1] == pre_skip + exact_48k
    with av.open(str(dst)) as container:
        samples = sum(f.samples for f in container.decode(audio=0))
    assert samples == exact_48k and made.duration_ms == 2345


def test_packets_keep_their_bytes_and_pages_stay_small() -> None:
    fh = io.BytesIO()
    writer = OggOpusWriter(fh, channels=1, pre_skip=312, input_rate=24000)
    rng = np.random.default_rng(1)
    packets = [bytes(rng.integers(0, 256, size=n, dtype=np.uint8)) for n in (3, 254, 255, 256, 510, 80) * 40]
    for packet in packets:
        writer.write(packet, 960)
    writer.finish(312 + 960 * len(packets) - 100)
    found = pages(fh.getvalue())
    assert all(checksum_ok(p) for _, _, p in found)
    body = b"".join(p[27 + p[26] :] for _, _, p in found[2:])
    assert body == b"".join(packets)
    granules = [g for _, g, _ in found[2:]]
    assert granules == sorted(granules) and granules[-1] == 312 + 960 * len(packets) - 100
