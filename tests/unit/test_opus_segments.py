"""Parallel Opus segments: same packets in count and timing as one encoder, and no audible seam."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from audiogen import encode
from voicememo.audio import opus_encode
from voicememo.audio.caf import read_caf
from voicememo.audio.opus_encode import OpusEncoding
from voicememo.audio.probe import probe_file
from voicememo.audio.render import render_imessage

RATE = 24000
SECONDS = 50


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return encode(
        tmp_path_factory.mktemp("seg") / "speech.wav", fmt="wav", codec="pcm_s16le", seconds=SECONDS, rate=RATE
    ).path


def _encode(src: Path, threads: int) -> tuple[OpusEncoding, list[bytes]]:
    encoding = OpusEncoding(src, rate=RATE, bit_rate=32000, limit=SECONDS * RATE, threads=threads)
    return encoding, list(encoding.packets())


def _decode(packets: list[bytes]) -> np.ndarray:
    decoder = av.CodecContext.create("opus", "r")
    decoder.sample_rate = 48000
    decoder.layout = "mono"
    frames = [f.to_ndarray().reshape(-1) for p in packets for f in decoder.decode(av.Packet(p))]
    return np.concatenate(frames).astype(np.float64)


def _seam_snr(whole: list[bytes], spliced: OpusEncoding, packets: list[bytes]) -> tuple[float, float]:
    """How far the spliced decode is from one encoder's, in the 100 ms after each seam and after the first."""
    a, b = _decode(whole), _decode(packets)
    assert len(a) == len(b)
    n = len(a) // 960 * 960
    error = ((a - b)[:n].reshape(-1, 960) ** 2).mean(axis=1)
    signal = (a[:n].reshape(-1, 960) ** 2).mean(axis=1)
    seams = spliced.bounds[1:-1]
    near = [k for seam in seams for k in range(seam, seam + 5)]
    after = list(range(seams[0], len(error)))

    def snr(idx: list[int]) -> float:
        return float(10 * np.log10(signal[idx].sum() / error[idx].sum()))

    return snr(near), snr(after)


def test_segments_give_one_encoders_packet_count_priming_and_length(speech: Path) -> None:
    one, whole = _encode(speech, threads=1)
    three, spliced = _encode(speech, threads=3)
    assert len(three.bounds) == 4 and len(one.bounds) == 2  # 50 s: three segments of at least 15 s
    assert len(spliced) == len(whole)
    assert (three.priming_48k, three.fed) == (one.priming_48k, one.fed) == (312, SECONDS * RATE)
    assert spliced[: three.bounds[1]] == whole[: three.bounds[1]]  # the first segment is one encoder's


def test_a_seam_is_no_worse_than_any_other_difference_between_two_encodings(speech: Path) -> None:
    _, whole = _encode(speech, threads=1)
    three, spliced = _encode(speech, threads=3)
    near, after = _seam_snr(whole, three, spliced)
    assert near >= after - 3.0, (near, after)


def test_without_preroll_the_seam_shows(speech: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The seam measure above can fail: cold encoders at each seam give a clear glitch."""
    _, whole = _encode(speech, threads=1)
    monkeypatch.setattr(opus_encode, "PREROLL_PACKETS", 0)
    three, spliced = _encode(speech, threads=3)
    near, after = _seam_snr(whole, three, spliced)
    assert near < after - 6.0, (near, after)


def test_parallel_rendition_is_exact_and_reads_back(speech: Path, tmp_path: Path) -> None:
    out = tmp_path / "Audio Message.caf"
    made = render_imessage(speech, out, threads=2)
    info = read_caf(out.read_bytes())
    assert (info.valid_frames, info.priming) == (SECONDS * RATE, 312)
    assert made.duration_ms == probe_file(out).duration_ms == SECONDS * 1000
