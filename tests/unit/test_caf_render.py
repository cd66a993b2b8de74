"""Our CAF writer and the renditions: parse our own output, decode it back with FFmpeg."""

from __future__ import annotations

import io
from pathlib import Path

import av
import pytest

from audiogen import Made, encode, voice_signal
from voicememo.audio.caf import CafOpusWriter, ber_length, read_caf
from voicememo.audio.probe import probe_file
from voicememo.audio.render import RenditionFailed, render_imessage, render_mms


@pytest.mark.parametrize(
    ("value", "encoded"),
    [(0, b"\x00"), (127, b"\x7f"), (128, b"\x81\x00"), (300, b"\x82\x2c"), (16384, b"\x81\x80\x00")],
)
def test_variable_length_integers(value: int, encoded: bytes) -> None:
    assert ber_length(value) == encoded


def test_writer_layout_and_patched_sizes() -> None:
    buf = io.BytesIO()
    writer = CafOpusWriter(buf, sample_rate=24000, frames_per_packet=480)
    for size in (10, 200, 129):
        writer.write_packet(b"\x01" * size)
    writer.finish(valid_frames=1200, priming_48k=312)
    info = read_caf(buf.getvalue())
    assert (info.sample_rate, info.format_id, info.format_flags, info.bytes_per_packet) == (24000.0, b"opus", 0, 0)
    assert (info.frames_per_packet, info.channels, info.channel_layout) == (480, 1, (100 << 16) | 1)
    assert (info.packets, info.packet_sizes, info.data_bytes) == (3, (10, 200, 129), 339)
    assert (info.valid_frames, info.priming) == (1200, 312)
    assert info.remainder == 3 * 960 - 2400 - 312  # 48 kHz units: what FFmpeg trims from its output


def test_writer_refuses_impossible_lengths() -> None:
    writer = CafOpusWriter(io.BytesIO(), sample_rate=48000, frames_per_packet=960)
    writer.write_packet(b"\x01")
    with pytest.raises(ValueError, match="exceed"):
        writer.finish(valid_frames=960, priming_48k=312)


@pytest.mark.parametrize("name", ["mp3-xing", "m4a-moov-first", "adts", "wav-s24-stereo", "amr-nb-dtx", "caf-pcm"])
@pytest.mark.parametrize("rate", [24000, 48000])
def test_imessage_rendition_decodes_back_to_the_source_length(
    corpus: dict[str, Made], tmp_path: Path, name: str, rate: int
) -> None:
    source = probe_file(corpus[name].path)
    out = tmp_path / "Audio Message.caf"
    made = render_imessage(corpus[name].path, out, desc_rate=rate)
    info = read_caf(out.read_bytes())
    assert (info.sample_rate, info.channels, info.frames_per_packet) == (rate, 1, rate // 50)
    assert info.valid_frames == round(source.samples * rate / source.sample_rate)
    assert info.priming == 312  # libopus pre-skip, 6.5 ms at 48 kHz
    with av.open(str(out), format="caf") as container:
        stream = container.streams.audio[0]
        decoded = sum(f.samples for p in container.demux(stream) for f in stream.codec_context.decode(p))
    assert abs(decoded / 48 - source.duration_ms) <= 1  # exact to the millisecond, not just one packet
    assert made.duration_ms == probe_file(out).duration_ms == source.duration_ms


def test_ffprobe_cli_reads_our_caf(corpus: dict[str, Made], tmp_path: Path, ffprobe: str) -> None:
    import subprocess

    out = tmp_path / "a.caf"
    render_imessage(corpus["wav-s16"].path, out)
    shown = subprocess.run(
        [ffprobe, "-v", "error", "-show_entries", "stream=codec_name,channels", "-of", "csv=p=0", str(out)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert shown == "opus,1"


def test_silent_source_gives_a_silent_but_valid_rendition(tmp_path: Path) -> None:
    quiet = encode(
        tmp_path / "quiet.wav", fmt="wav", codec="pcm_s16le", rate=16000, signal=voice_signal(1.0, 16000) * 0
    )
    assert render_imessage(quiet.path, tmp_path / "q.caf").duration_ms == 1000


def test_mms_prefers_aac_and_fits_the_cap(corpus: dict[str, Made], tmp_path: Path) -> None:
    made = render_mms(corpus["wav-s16"].path, tmp_path / "m.m4a")
    assert made.mime_type == "audio/mp4" and made.size_bytes <= 600_000
    assert abs(made.duration_ms - 3000) <= 50


def test_mms_falls_back_to_amr_then_refuses(tmp_path: Path) -> None:
    long = encode(tmp_path / "long.wav", fmt="wav", codec="pcm_s16le", rate=8000, seconds=60)
    amr = render_mms(long.path, tmp_path / "m.amr", max_bytes=110_000)  # AAC at 16 kb/s would need ~124 KB
    assert (amr.mime_type, amr.bit_rate) == ("audio/amr", 12200) and amr.size_bytes <= 110_000
    with pytest.raises(RenditionFailed, match="exceeds the 50 KB MMS limit"):
        render_mms(long.path, tmp_path / "x", max_bytes=50_000)
