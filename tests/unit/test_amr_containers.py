"""AMR stored in 3GP, QuickTime/MP4 and CAF, as phones and MMS gateways write it: decoded by opencore
(DTX frames included), measured to the frame, rendered to a voice memo."""

from __future__ import annotations

from pathlib import Path

import pytest

from audiogen import Made, remux
from bitstreams import amr_frame_types
from voicememo.audio.formats import AudioFormat, format_for_content_type
from voicememo.audio.probe import probe_file
from voicememo.audio.render import render_imessage
from voicememo.errors import UnsupportedAudio

# (muxer, extension, brand rewrite, reported format, reported MIME type)
CONTAINERS = {
    "3gp": ("3gp", "3gp", None, AudioFormat.AMR, "audio/amr"),
    "3g2": ("3g2", "3g2", None, AudioFormat.AMR, "audio/amr"),
    "mov": ("mov", "mov", None, AudioFormat.AMR, "audio/amr"),
    "m4a": ("3gp", "m4a", b"M4A ", AudioFormat.AMR, "audio/amr"),
    "caf": ("caf", "caf", None, AudioFormat.CAF, "audio/x-caf"),
}
# variant: (samples per 20 ms frame, sample rate, opencore decoder, the DTX frame type that must be present)
VARIANTS = {"nb": (160, 8000, "libopencore_amrnb", 8), "wb": (320, 16000, "libopencore_amrwb", 9)}


@pytest.fixture
def raw_amr(request: pytest.FixtureRequest, corpus: dict[str, Made], amr_wb_dtx: Path) -> Path:
    return corpus["amr-nb-dtx"].path if request.param == "nb" else amr_wb_dtx


# FFmpeg's CAF muxer and demuxer know AMR-NB ('samr') only; AMR-WB in CAF is refused as an unknown codec.
CASES = [(c, v) for c in sorted(CONTAINERS) for v in sorted(VARIANTS) if (c, v) != ("caf", "wb")]


@pytest.mark.parametrize(("container", "raw_amr"), CASES, indirect=["raw_amr"])
def test_amr_in_a_container_is_measured_frame_exact(raw_amr: Path, container: str, tmp_path: Path) -> None:
    muxer, extension, brand, fmt, mime = CONTAINERS[container]
    variant = "wb" if raw_amr.suffix == ".awb" else "nb"
    per_frame, rate, decoder, dtx = VARIANTS[variant]
    types = amr_frame_types(raw_amr)
    assert dtx in types, "the source must hold DTX (comfort-noise) frames"
    path = remux(raw_amr, tmp_path / f"memo.{extension}", muxer, brand=brand)
    info = probe_file(path)
    assert (info.samples, info.sample_rate, info.channels) == (len(types) * per_frame, rate, 1)
    assert info.duration_ms == len(types) * 20
    assert (info.codec, info.format, info.mime_type) == (decoder, fmt, mime)


def test_a_3gp_memo_renders_to_the_opus_caf_bubble(corpus: dict[str, Made], tmp_path: Path) -> None:
    raw = corpus["amr-nb-dtx"].path
    path = remux(raw, tmp_path / "mms.3gp", "3gp")
    made = render_imessage(path, tmp_path / "Audio Message.caf")
    assert made.source_duration_ms == len(amr_frame_types(raw)) * 20
    assert abs(made.duration_ms - made.source_duration_ms) <= 20


def test_a_truncated_3gp_is_refused(corpus: dict[str, Made], tmp_path: Path) -> None:
    """A fast-start 3GP states its full length up front; a cut upload ends in a partial frame."""
    path = remux(corpus["amr-nb-dtx"].path, tmp_path / "whole.3gp", "3gp", container_options={"movflags": "+faststart"})
    data = path.read_bytes()
    cut = tmp_path / "cut.3gp"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(UnsupportedAudio, match=r"^The AMR in MP4 file is corrupt: decoding failed at 2400 ms"):
        probe_file(cut)


def test_3gpp_is_a_content_type_for_amr() -> None:
    assert format_for_content_type("audio/3gpp") is AudioFormat.AMR
    assert format_for_content_type("audio/amr") is AudioFormat.AMR
