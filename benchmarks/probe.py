"""Probe a directory of audio: files/s with exact durations, against an ffprobe loop over the same files.

    .venv/bin/python benchmarks/probe.py [DIR] [--workers N]

Without DIR, a corpus of voice-memo-like files (7 formats, 10-60 s) is generated first.
The ffprobe loop is what a script would do: one ffprobe process per file, header
durations only (and, as the spec notes, wrong ones for MP3 without Xing, ADTS, AMR).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from voicememo.audio.probe import AudioInfo, probe_file


def make_corpus(directory: Path) -> list[Path]:
    from audiogen import encode

    plans = [
        ("mp3", "libmp3lame", "mp3", 44100, {"bit_rate": 64000}),
        ("ipod", "aac", "m4a", 44100, {"bit_rate": 64000}),
        ("adts", "aac", "aac", 44100, {"bit_rate": 64000}),
        ("wav", "pcm_s16le", "wav", 16000, {}),
        ("aiff", "pcm_s16be", "aiff", 16000, {}),
        ("caf", "pcm_s16le", "caf", 16000, {}),
        ("amr", "libopencore_amrnb", "amr", 8000, {"bit_rate": 12200}),
    ]
    paths = []
    for i, seconds in enumerate((10, 20, 30, 45, 60, 15)):
        for fmt, codec, ext, rate, extra in plans:
            made = encode(directory / f"memo{i}.{ext}", fmt=fmt, codec=codec, seconds=seconds, rate=rate, **extra)  # type: ignore[arg-type]
            paths.append(made.path)
    return paths


def run_ours(paths: list[Path], workers: int) -> tuple[float, list[AudioInfo]]:
    with ProcessPoolExecutor(workers) as pool:
        list(pool.map(probe_file, paths[:workers]))  # warm the workers (imports), as a running server is
        start = time.perf_counter()
        infos = list(pool.map(probe_file, paths))
        return time.perf_counter() - start, infos


def run_ffprobe(ffprobe: str, paths: list[Path]) -> tuple[float, list[float]]:
    start = time.perf_counter()
    durations = []
    for path in paths:
        out = subprocess.run(
            [ffprobe, "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", str(path)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        durations.append(float(out.strip() or "nan"))
    return time.perf_counter() - start, durations


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", nargs="?", type=Path)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        given = args.directory
        paths = sorted(p for p in given.iterdir() if p.is_file()) if given else make_corpus(Path(tmp))
        ours_s, infos = run_ours(paths, args.workers)
        total_audio = sum(i.duration_ms for i in infos) / 1000
        print(f"files: {len(paths)}, audio: {total_audio:.0f} s, workers: {args.workers}")
        print(f"voicememo probe (full decode, exact): {ours_s:.3f} s  = {len(paths) / ours_s:.1f} files/s")
        ffprobe = shutil.which("ffprobe")
        if ffprobe is None:
            print("ffprobe not installed: no comparison")
            return
        ff_s, ff_durations = run_ffprobe(ffprobe, paths)
        print(f"ffprobe loop (headers only):          {ff_s:.3f} s  = {len(paths) / ff_s:.1f} files/s")
        print(f"ratio voicememo/ffprobe: {ours_s / ff_s:.2f}x  (target <= 0.30x)")
        off = [
            (p.name, i.duration_ms, round(d * 1000))
            for p, i, d in zip(paths, infos, ff_durations, strict=True)
            if abs(i.duration_ms - d * 1000) > 5
        ]
        print(f"files where ffprobe's header duration is off by > 5 ms: {len(off)}")
        for name, ours, theirs in off[:10]:
            print(f"  {name}: exact {ours} ms, ffprobe says {theirs} ms")


if __name__ == "__main__":
    main()
