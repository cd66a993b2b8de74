"""Independent frame counters for the test oracle: what a decoder must output, from the bitstream."""

from __future__ import annotations

from pathlib import Path

AMR_NB_SIZES = [12, 13, 15, 17, 19, 20, 26, 31, 5, 0, 0, 0, 0, 0, 0, 0]
AMR_WB_SIZES = [17, 23, 32, 36, 40, 46, 50, 58, 60, 5, 0, 0, 0, 0, 0, 0]
_MP3_KBPS = (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320)
_MP3_KBPS_V2 = (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160)
_MP3_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000)}


def amr_frame_types(path: Path) -> list[int]:
    data = path.read_bytes()
    wide = data.startswith(b"#!AMR-WB\n")
    pos = 9 if wide else 6
    sizes = AMR_WB_SIZES if wide else AMR_NB_SIZES
    types = []
    while pos < len(data):
        ft = (data[pos] >> 3) & 0x0F
        types.append(ft)
        pos += 1 + sizes[ft]
    return types


def adts_frames(path: Path) -> int:
    data, pos, count = path.read_bytes(), 0, 0
    while pos + 7 <= len(data):
        assert data[pos] == 0xFF and data[pos + 1] & 0xF0 == 0xF0, f"lost ADTS sync at {pos}"
        pos += ((data[pos + 3] & 3) << 11) | (data[pos + 4] << 3) | (data[pos + 5] >> 5)
        count += 1
    return count


def mp3_frames(path: Path) -> tuple[int, int, set[int]]:
    """(frames, samples per frame, bitrates seen) of an MP3 after its ID3v2 tag."""
    data = path.read_bytes()
    pos = 0
    if data[:3] == b"ID3":
        pos = 10 + ((data[6] << 21) | (data[7] << 14) | (data[8] << 7) | data[9])
    count, bitrates, per_frame = 0, set(), 1152
    while pos + 4 <= len(data) and data[pos] == 0xFF:
        version = (data[pos + 1] >> 3) & 3
        kbps = (_MP3_KBPS if version == 3 else _MP3_KBPS_V2)[data[pos + 2] >> 4]
        rate = _MP3_RATES[version][(data[pos + 2] >> 2) & 3]
        per_frame = 1152 if version == 3 else 576
        pos += (144000 if version == 3 else 72000) * kbps // rate + ((data[pos + 2] >> 1) & 1)
        bitrates.add(kbps)
        count += 1
    return count, per_frame, bitrates
