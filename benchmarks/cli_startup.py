"""Start-up of the CLI: wall seconds of `voicememo --help`, `send --help` and `audio probe` on a 1 s WAV.

    .venv/bin/python benchmarks/cli_startup.py [--runs 20]

Whole processes, as a user runs them (target: <= 0.25 s each). The bare interpreter is
printed beside them: what is left above it is imports and the command's own work.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
import wave
from pathlib import Path

BIN = Path(sys.executable).with_name("voicememo")


def walls(cmd: list[str], runs: int) -> list[float]:
    subprocess.run(cmd, check=True, capture_output=True)  # warm-up, not counted
    out = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        out.append(time.perf_counter() - start)
    return out


def one_second_wav(path: Path) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(b"\x01\x00" * 16000)
    return path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        wav = one_second_wav(Path(tmp) / "one.wav")
        for label, cmd in (
            ("python -c pass", [sys.executable, "-c", "pass"]),
            ("voicememo --help", [str(BIN), "--help"]),
            ("voicememo send --help", [str(BIN), "send", "--help"]),
            ("voicememo audio probe (1 s WAV)", [str(BIN), "audio", "probe", str(wav)]),
        ):
            times = walls(cmd, args.runs)
            print(
                f"{label:<32} median {statistics.median(times):.3f} s  "
                f"min {min(times):.3f} s  max {max(times):.3f} s  ({args.runs} runs)"
            )


if __name__ == "__main__":
    main()
