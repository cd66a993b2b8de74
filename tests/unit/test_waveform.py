"""Waveform peaks come from the real decode at intake, and draw as an SVG that tells loud from silent."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from audiogen import encode, voice_signal, with_silence
from voicememo.audio.peaks import PeakMeter
from voicememo.audio.probe import probe_file
from voicememo.domain.waveform import PEAK_BUCKETS, Waveform, format_duration, render_svg

RATE = 16000


def tone(seconds: float, rate: int, amplitude: float) -> np.ndarray:
    t = np.arange(round(seconds * rate)) / rate
    return (amplitude * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None, :]


def silence(seconds: float, rate: int) -> np.ndarray:
    return np.zeros((1, round(seconds * rate)), dtype=np.float32)


@pytest.mark.parametrize(
    ("fmt", "codec", "suffix"),
    [("wav", "pcm_s16le", "wav"), ("wav", "pcm_u8", "wav"), ("ipod", "aac", "m4a"), ("mp3", "libmp3lame", "mp3")],
)
def test_silence_tone_and_speech_give_their_own_levels(tmp_path: Path, fmt: str, codec: str, suffix: str) -> None:
    quiet = probe_file(
        encode(tmp_path / f"silent.{suffix}", fmt=fmt, codec=codec, rate=RATE, signal=silence(2, RATE)).path
    )
    loud = probe_file(
        encode(tmp_path / f"tone.{suffix}", fmt=fmt, codec=codec, rate=RATE, signal=tone(2, RATE, 0.8)).path
    )
    speech = probe_file(encode(tmp_path / f"speech.{suffix}", fmt=fmt, codec=codec, rate=RATE, seconds=4).path)
    assert quiet.peaks is not None and loud.peaks is not None and speech.peaks is not None
    assert len(quiet.peaks) == len(loud.peaks) == len(speech.peaks) == PEAK_BUCKETS
    assert max(quiet.peaks) <= 3  # digital silence (a lossy codec may leave a bit of noise)
    # a steady 0.8 full-scale tone: every bucket near 204 (lossy codecs overshoot a little; the first
    # and last buckets may hold the encoder's fade)
    assert all(180 <= v <= 240 for v in loud.peaks[2:-2]), loud.peaks
    # speech pauses and syllables: the levels vary a lot, unlike the tone's
    assert max(speech.peaks) - min(speech.peaks) > 60, speech.peaks


def test_a_pause_in_the_middle_shows_as_a_gap_where_it_is(tmp_path: Path) -> None:
    # 1 s tone, 2 s silence, 1 s tone (a decoded frame may straddle a bucket edge)
    signal = with_silence(tone(1, RATE, 0.5), RATE, 2.0)
    info = probe_file(encode(tmp_path / "gap.wav", fmt="wav", codec="pcm_s16le", rate=RATE, signal=signal).path)
    assert info.peaks is not None
    quarter = PEAK_BUCKETS // 4
    assert all(120 <= v <= 135 for v in info.peaks[: quarter - 1])  # 0.5 full scale ≈ 128
    assert all(v == 0 for v in info.peaks[quarter + 2 : 3 * quarter - 2])
    assert all(120 <= v <= 135 for v in info.peaks[3 * quarter + 1 :])


def test_a_memo_shorter_than_the_buckets_fills_every_bucket(tmp_path: Path) -> None:
    # 50 ms at 8 kHz in 1024-sample frames is fewer frames than buckets: no bucket is left empty
    info = probe_file(
        encode(tmp_path / "short.wav", fmt="wav", codec="pcm_s16le", rate=8000, signal=tone(0.05, 8000, 0.5)).path
    )
    assert info.peaks is not None and min(info.peaks) >= 120


def test_the_stored_form_round_trips_and_rejects_garbage() -> None:
    waveform = Waveform(tuple(range(0, 256, 8)) + (255,) * 64)
    assert len(waveform.encode()) <= 200
    assert Waveform.decode(waveform.encode()) == waveform
    with pytest.raises(ValueError, match="not a stored waveform"):
        Waveform.decode("not base64!")
    with pytest.raises(ValueError, match="one or more levels"):
        Waveform.decode("")


def bar_heights(svg: str) -> list[float]:
    return [float(h) for h in re.findall(r'<rect [^>]*height="([0-9.]+)"', svg)]


def test_the_svg_is_accessible_and_a_silent_file_differs_from_a_loud_one(tmp_path: Path) -> None:
    quiet = probe_file(
        encode(tmp_path / "q.wav", fmt="wav", codec="pcm_s16le", rate=RATE, signal=silence(7.4, RATE)).path
    )
    loud = probe_file(encode(tmp_path / "l.wav", fmt="wav", codec="pcm_s16le", rate=RATE, seconds=7.4).path)
    assert quiet.peaks and loud.peaks
    quiet_svg = render_svg(Waveform(quiet.peaks), quiet.duration_ms, width=300, height=40)
    loud_svg = render_svg(Waveform(loud.peaks), loud.duration_ms, width=300, height=40)
    for svg in (quiet_svg, loud_svg):
        assert svg.startswith("<svg ") and 'role="img"' in svg and f'viewBox="0 0 {PEAK_BUCKETS} 40"' in svg
        assert "<title>Voice memo waveform, 0:07</title>" in svg
        assert len(bar_heights(svg)) == PEAK_BUCKETS
    assert max(bar_heights(quiet_svg)) < 3  # the minimum bar: a dotted line
    assert sum(bar_heights(loud_svg)) > 5 * sum(bar_heights(quiet_svg))


def test_durations_read_like_a_bubble() -> None:
    assert format_duration(7_400) == "0:07"
    assert format_duration(59_600) == "1:00"
    assert format_duration(3_725_000) == "1:02:05"
    assert format_duration(None) == "unknown length"


def test_speech_signal_helper_is_what_the_tests_assume() -> None:
    assert voice_signal(1, RATE).shape == (1, RATE)


def test_a_meter_fed_nothing_reports_silence() -> None:
    assert PeakMeter().buckets() == (0,) * PEAK_BUCKETS
