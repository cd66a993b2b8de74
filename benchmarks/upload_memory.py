"""Peak memory of the server (and its audio workers) while a ~100 MB WAV is uploaded and checked.

    .venv/bin/python benchmarks/upload_memory.py [--mb 100]

Starts `voicememo serve` on a fresh data dir, streams the upload through the signed
PUT URL, and reads VmHWM (peak resident set) from /proc for the server and every child.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import wave
from pathlib import Path

import httpx
import linq
import numpy as np

BIN = Path(sys.executable).with_name("voicememo")


def peak_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def family(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    children = [int(x) for x in out.split()]
    return [pid] + [p for c in children for p in family(c)]


def write_wav(path: Path, megabytes: int) -> None:
    rate = 48000
    t = np.arange(rate * 10) / rate
    block = (np.sin(2 * np.pi * 220 * t) * 8000).astype("<i2")
    stereo = np.repeat(block, 2).tobytes()
    with wave.open(str(path), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(rate)
        while path.stat().st_size + len(stereo) <= megabytes * 1024 * 1024:
            w.writeframes(stereo)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mb", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        audio = Path(tmp) / "long.wav"
        write_wav(audio, args.mb)
        size = audio.stat().st_size
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        env = {**os.environ, "VOICEMEMO_DATA_DIR": f"{tmp}/data", "VOICEMEMO_PORT": str(port)}
        made = json.loads(
            subprocess.run(
                [str(BIN), "partners", "create", "Bench", "--line", "+15550300001", "--json"],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        )
        proc = subprocess.Popen(
            [str(BIN), "serve"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        assert proc.stdout is not None
        for line in proc.stdout:
            if "Application startup complete" in line:
                break
        threading.Thread(target=proc.stdout.read, daemon=True).start()  # drain: a full pipe would block it
        try:
            client = linq.LinqAPIV3(api_key=made["api_key"], base_url=f"http://127.0.0.1:{port}")
            baseline = {pid: peak_kb(pid) for pid in family(proc.pid)}
            slot = client.attachments.create(filename="long.wav", content_type="audio/wav", size_bytes=size)
            start = time.perf_counter()
            with open(audio, "rb") as fh:
                put = httpx.put(
                    slot.upload_url,
                    content=iter(lambda: fh.read(1 << 20), b""),
                    headers={**slot.required_headers, "Content-Length": str(size)},
                    timeout=300,
                )
            elapsed = time.perf_counter() - start
            peaks = {pid: peak_kb(pid) for pid in family(proc.pid)}
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)
        print(
            f"upload: {size / 1e6:.1f} MB WAV, HTTP {put.status_code}, duration_ms {put.json().get('duration_ms')}, "
            f"{elapsed:.2f} s ({size / 1e6 / elapsed:.0f} MB/s incl. exact decode)"
        )
        before, after = baseline[proc.pid] / 1024, peaks[proc.pid] / 1024
        print(f"server process peak RSS: {after:.0f} MB (before upload {before:.0f} MB)")
        workers = {pid: kb for pid, kb in peaks.items() if pid != proc.pid}
        for pid, kb in sorted(workers.items()):
            print(f"  child {pid} peak RSS: {kb / 1024:.0f} MB")
        print(f"file size / server peak growth: {size / 1024 / max(1, peaks[proc.pid] - baseline[proc.pid]):.0f}x")


if __name__ == "__main__":
    main()
