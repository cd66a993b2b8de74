"""5 minutes of speech → the iMessage rendition (Opus in CAF, mono, 24 kHz, 32 kb/s), against the ffmpeg CLI.

    .venv/bin/python benchmarks/convert.py [--seconds 300] [--source FILE ...] [--runs 5]

For an AAC (M4A) and an MP3 source (generated speech-like audio unless --source is given),
two figures:

- the whole ``voicememo audio convert`` process (start-up, imports, the intake probe, the
  verified rendition), run in turn with the ffmpeg CLI doing decode + encode + its own (48 kHz,
  no priming) CAF for the same settings: median wall and CPU seconds of each, and the median
  of the run-by-run ratios (target: wall <= 0.80x ffmpeg's);
- the rendition alone, in this process: decode, resample, libopus, our CAF writer and the
  decode-back check.

The ffmpeg comparison needs the ffmpeg CLI (Debian's ffmpeg 5.1 can still mux Opus into CAF;
FFmpeg 8 refuses).
"""

from __future__ import annotations

import argparse
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from voicememo.audio.probe import probe_file
from voicememo.audio.render import render_imessage

BIN = Path(sys.executable).with_name("voicememo")


def timed(cmd: list[str]) -> tuple[float, float]:
    """Wall and CPU (user + system) seconds of one run of ``cmd``, output discarded."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def ffmpeg_command(ffmpeg: str, source: Path, out: Path) -> list[str]:
    return [
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
        str(out),
    ]


def compare(source: Path, tmp: Path, runs: int) -> None:
    ours = [str(BIN), "audio", "convert", str(source), str(tmp / "Audio Message.caf")]
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        print("  ffmpeg CLI not installed: no comparison")
        return
    theirs = ffmpeg_command(ffmpeg, source, tmp / "ff.caf")
    check = subprocess.run(theirs, capture_output=True, text=True)
    if check.returncode != 0:
        print(f"  ffmpeg cannot do this job here: {check.stderr.strip().splitlines()[-1]}")
        return
    timed(ours)  # warm the page cache for both
    pairs = [(timed(ours), timed(theirs)) for _ in range(runs)]  # in turn: drift hits both alike
    for name, side in (("voicememo audio convert", 0), ("ffmpeg CLI", 1)):
        wall = statistics.median(p[side][0] for p in pairs)
        cpu = statistics.median(p[side][1] for p in pairs)
        print(f"  {name:<24} wall {wall:6.2f} s   cpu {cpu:6.2f} s   (median of {runs})")
    wall_ratio = statistics.median(a[0] / b[0] for a, b in pairs)
    cpu_ratio = statistics.median(a[1] / b[1] for a, b in pairs)
    print(f"  ratio voicememo/ffmpeg: wall {wall_ratio:.2f}x, cpu {cpu_ratio:.2f}x  (target: wall <= 0.80x)")


def render_alone(source: Path, tmp: Path, runs: int, threads: int) -> None:
    out = tmp / "Audio Message.caf"
    measured = probe_file(source)  # done once at intake; delivery passes the exact length on
    exact = {"source_samples": measured.samples, "source_rate": measured.sample_rate, "threads": threads}
    made = render_imessage(source, out, **exact)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        render_imessage(source, out, **exact)
        times.append(time.perf_counter() - start)
    best = min(times)
    print(
        f"  rendition alone, in process (verified Opus-CAF): best {best:.2f} s "
        f"({made.source_duration_ms / 1000 / best:.0f}x real time), {made.size_bytes} bytes, {made.duration_ms} ms"
    )


def generated(tmp: Path, seconds: float) -> list[Path]:
    from audiogen import encode

    return [
        encode(tmp / "speech.m4a", fmt="ipod", codec="aac", seconds=seconds, rate=44100, bit_rate=64000).path,
        encode(tmp / "speech.mp3", fmt="mp3", codec="libmp3lame", seconds=seconds, rate=44100, bit_rate=64000).path,
    ]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=300.0)
    parser.add_argument("--source", type=Path, action="append", help="audio file (repeatable); default: generated")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--threads", type=int, default=0, help="encoder threads, rendition alone (0 = one per CPU)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        for source in args.source or generated(tmp, args.seconds):
            info = probe_file(source)
            seconds = info.duration_ms / 1000
            print(f"{source.name}: {info.codec} {info.sample_rate} Hz {info.channels} ch, {seconds:.1f} s")
            compare(source, tmp, args.runs)
            render_alone(source, tmp, args.runs, args.threads)


if __name__ == "__main__":
    main()
