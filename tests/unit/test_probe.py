"""Exact durations on every format, and a precise reason for every refusal."""

from __future__ import annotations

import re
import subprocess
from fractions import Fraction
from pathlib import Path

import av
import av.error
import pytest

from audiogen import Made, voice_signal
from bitstreams import adts_frames, amr_frame_types, mp3_frames
from voicememo.audio.probe import probe_file, samples_to_ms
from voicememo.errors import UnsupportedAudio

# Formats whose container states the exact input length: we must report exactly the encoded input.
EXACT = [
    "mp3-xing",
    "m4a-moov-last",
    "m4a-moov-first",
    "wav-s16",
    "wav-s24-stereo",
    "wav-f32",
    "wav-u8",
    "wav-mulaw",
    "aiff",
    "aifc",
    "caf-pcm",
]


@pytest.mark.parametrize("name", EXACT)
def test_exact_length_formats_report_the_input_length(corpus: dict[str, Made], name: str) -> None:
    made = corpus[name]
    info = probe_file(made.path)
    assert info.samples == made.samples
    assert info.duration_ms == samples_to_ms(made.samples, made.rate) == 3000


def test_mp3_without_xing_counts_every_decoded_frame(corpus: dict[str, Made]) -> None:
    made = corpus["mp3-noxing"]
    frames, per_frame, _ = mp3_frames(made.path)
    info = probe_file(made.path)
    assert info.samples == frames * per_frame
    assert info.header_duration_ms is not None  # FFmpeg's bitrate estimate, which we do not trust


def test_vbr_mp3_without_xing(corpus: dict[str, Made]) -> None:
    made = corpus["mp3-vbr-noxing"]
    frames, per_frame, bitrates = mp3_frames(made.path)
    assert len(bitrates) > 1, "fixture must really be variable-bitrate"
    info = probe_file(made.path)
    assert info.samples == frames * per_frame
    assert info.duration_ms != info.header_duration_ms  # the header estimate is wrong; the decode is not


def test_adts_counts_every_frame(corpus: dict[str, Made]) -> None:
    made = corpus["adts"]
    info = probe_file(made.path)
    assert info.samples == adts_frames(made.path) * 1024
    assert (info.codec, info.mime_type) == ("aac", "audio/aac")


@pytest.mark.parametrize("name", ["amr-nb", "amr-nb-dtx"])
def test_amr_nb_counts_every_frame_including_dtx(corpus: dict[str, Made], name: str) -> None:
    made = corpus[name]
    types = amr_frame_types(made.path)
    info = probe_file(made.path)
    assert info.samples == len(types) * 160
    assert info.codec == "libopencore_amrnb"
    if name == "amr-nb-dtx":
        assert 8 in types, "fixture must contain SID (comfort-noise) frames"
        assert info.duration_ms == 9020


def test_native_amr_decoder_really_fails_on_dtx(corpus: dict[str, Made]) -> None:
    """Why we use opencore: FFmpeg's own decoder rejects the phone's DTX frames."""
    errors = 0
    with av.open(str(corpus["amr-nb-dtx"].path), format="amr") as container:
        decoder = av.CodecContext.create("amrnb", "r")
        for packet in container.demux(container.streams.audio[0]):
            try:
                decoder.decode(packet)
            except av.error.FFmpegError:
                errors += 1
    assert errors > 0


def test_amr_wb_with_dtx_fixture(amr_wb_dtx: Path) -> None:
    types = amr_frame_types(amr_wb_dtx)
    assert types.count(9) == 24 and types.count(15) == 141  # SID and NO_DATA, as the README states
    info = probe_file(amr_wb_dtx)
    assert (info.samples, info.sample_rate, info.duration_ms) == (len(types) * 320, 16000, 8580)
    assert info.codec == "libopencore_amrwb"


# ffprobe ignores LAME's gapless trim (reports +30 ms on mp3-xing), so that one is not compared.
@pytest.mark.parametrize("name", [n for n in EXACT if n != "mp3-xing"])
def test_ffprobe_agrees_where_it_is_exact(corpus: dict[str, Made], name: str, ffprobe: str) -> None:
    out = subprocess.run(
        [ffprobe, "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", str(corpus[name].path)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert round(float(out) * 1000) == probe_file(corpus[name].path).duration_ms


def _truncate(src: Path, dst: Path, share: float) -> Path:
    data = src.read_bytes()
    dst.write_bytes(data[: int(len(data) * share)])
    return dst


@pytest.mark.parametrize(
    ("name", "label"), [("mp3-xing", "MP3"), ("wav-s16", "WAV"), ("aiff", "AIFF"), ("caf-pcm", "CAF")]
)
def test_truncated_files_are_refused_with_both_lengths(
    corpus: dict[str, Made], tmp_path: Path, name: str, label: str
) -> None:
    path = _truncate(corpus[name].path, tmp_path / corpus[name].path.name, 0.5)
    with pytest.raises(UnsupportedAudio, match=rf"^{label} truncated: header says 3000 ms, 1[0-9]{{3}} ms decodable\."):
        probe_file(path)


def test_truncated_fast_start_m4a(corpus: dict[str, Made], tmp_path: Path) -> None:
    path = _truncate(corpus["m4a-moov-first"].path, tmp_path / "cut.m4a", 0.5)
    with pytest.raises(UnsupportedAudio, match="M4A"):
        probe_file(path)


def test_m4a_cut_before_its_index(corpus: dict[str, Made], tmp_path: Path) -> None:
    path = _truncate(corpus["m4a-moov-last"].path, tmp_path / "cut.m4a", 0.5)
    with pytest.raises(UnsupportedAudio, match=r"could not be opened .* truncated or corrupt"):
        probe_file(path)


def test_corrupt_mp3_names_where_decoding_failed(corpus: dict[str, Made], tmp_path: Path) -> None:
    data = bytearray(corpus["mp3-noxing"].path.read_bytes())
    middle = len(data) // 3
    data[middle : middle + 400] = bytes((i * 73 + 11) % 256 for i in range(400))
    path = tmp_path / "bad.mp3"
    path.write_bytes(bytes(data))
    with pytest.raises(UnsupportedAudio, match=r"^The MP3 file is corrupt: decoding failed at \d+ ms"):
        probe_file(path)


def test_video_only_mp4_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "video.m4a"
    with av.open(str(path), "w", format="mp4") as out:
        stream = out.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for i in range(5):
            frame = av.VideoFrame(64, 48, "yuv420p")
            frame.pts, frame.time_base = i, Fraction(1, 10)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    with pytest.raises(UnsupportedAudio, match=r"^MP4 with no audio track"):
        probe_file(path)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"", "it looks like an empty file (0 bytes)"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "it looks like a PNG image"),
        (b"<html><body>Not found</body></html>", "it looks like an HTML page"),
    ],
)
def test_non_audio_is_refused_with_what_it_looks_like(tmp_path: Path, data: bytes, expected: str) -> None:
    path = tmp_path / "memo.m4a"
    path.write_bytes(data)
    with pytest.raises(UnsupportedAudio, match=re.escape(expected)):
        probe_file(path)


def test_silence_only_wav_is_fine_and_measured(tmp_path: Path) -> None:
    from audiogen import encode

    made = encode(tmp_path / "quiet.wav", fmt="wav", codec="pcm_s16le", rate=8000, signal=voice_signal(1.0, 8000) * 0)
    assert probe_file(made.path).duration_ms == 1000
