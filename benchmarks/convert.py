"""5 minutes of speech → the iMessage rendition (Opus in CAF, mono, 24 kHz, 32 kb/s), against the ffmpeg CLI.

    .venv/bin/python benchmarks/convert.py [--seconds 300] [--source FILE] [--runs 3]

Our figure is the whole verified rendition: decode, resample, libopus, our CAF writer and
the decode-back check. The ffmpeg CLI does only decode + encode + its own (48 kHz, no
priming) CAF for the same settings, when it is installed (Debian's ffmpeg 5.1 can still mux
Opus into CAF; FFmpeg 8 refuses). Best of N runs each, measured in the same process run.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from voicememo.audio.probe import probe_file
from voicememo.audio.render import render_imessage


def best_of(runs: int, action: object) -> float:
    assert callable(action)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=300.0)
    parser.add_argument("--source", type=Path)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=0, help="encoder threads (0 = one per CPU)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        source = args.source
        if source is None:
            from audiogen import encode

            source = encode(
                Path(tmp) / "speech.mp3",
                fmt="mp3",
                codec="libmp3lame",
                seconds=args.seconds,
                rate=44100,
                bit_rate=64000,
            ).path
        out = Path(tmp) / "Audio Message.caf"
        measured = probe_file(source)  # done once at intake; delivery passes the exact length on
        exact = {"source_samples": measured.samples, "source_rate": measured.sample_rate, "threads": args.threads}
        made = render_imessage(source, out, **exact)
        ours = best_of(args.runs, lambda: render_imessage(source, out, **exact))
        print(f"source: {source.name}, {made.source_duration_ms / 1000:.1f} s of audio")
        print(
            f"voicememo rendition (verified Opus-CAF): {ours:.2f} s  ({made.source_duration_ms / 1000 / ours:.0f}x "
            f"real time), {made.size_bytes} bytes, {made.duration_ms} ms"
        )
        ffmpeg = shutil.which("ffmpeg")
        if ffmpeg is None:
            print("ffmpeg CLI not installed: no comparison")
            return
        cmd = [
            ffmpeg,
            "-v",
            "error",
            "-y",
            "-i",
            str(source),
            "-ac",
            "1",
            "-ar",
            "24000",
            "-c:a",
            "libopus",
            "-b:a",
            "32k",
            "-frame_duration",
            "20",
            "-application",
            "voip",
            "-f",
            "caf",
            str(Path(tmp) / "ff.caf"),
        ]
        probe = subprocess.run(cmd, capture_output=True, text=True)
        if probe.returncode != 0:
            print(f"ffmpeg cannot do this job here: {probe.stderr.strip().splitlines()[-1]}")
            return
        theirs = best_of(args.runs, lambda: subprocess.run(cmd, check=True))
        print(f"ffmpeg CLI (decode + libopus + CAF mux): {theirs:.2f} s")
        print(f"ratio voicememo/ffmpeg: {ours / theirs:.2f}x  (target <= 0.80x)")


if __name__ == "__main__":
    main()
