"""Peak memory of the server (and its audio workers) while a ~100 MB WAV is uploaded and checked.

    .venv/bin/python benchmarks/upload_memory.py [--mb 100] [--s3]

Starts `voicememo serve` on a fresh data dir, streams the upload through the signed
PUT URL, and reads VmHWM (peak resident set) from /proc for the server and every child.
With ``--s3`` the blobs go to an S3 bucket on a moto server in this process (loopback).
"""

from __future__ import annotations

import argparse
import contextlib
import subprocess
import tempfile
import time
import wave
from collections.abc import Iterator
from pathlib import Path

import httpx
import linq
import numpy as np

from served import served


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


@contextlib.contextmanager
def s3_settings(wanted: bool) -> Iterator[dict[str, str]]:
    """Settings for a fresh bucket on a moto server in this process, or none (local files)."""
    if not wanted:
        yield {}
        return
    import boto3
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    keys = {"aws_access_key_id": "bench", "aws_secret_access_key": "bench", "region_name": "us-east-1"}
    boto3.client("s3", endpoint_url=endpoint, **keys).create_bucket(Bucket="bench")
    try:
        yield {
            "blob_url": "s3://bench/blobs",
            "s3_endpoint_url": endpoint,
            "s3_region": "us-east-1",
            "s3_access_key_id": "bench",
            "s3_secret_access_key": "bench",
        }
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mb", type=int, default=100)
    parser.add_argument("--s3", action="store_true", help="store blobs in S3 (a moto server on loopback)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, s3_settings(args.s3) as settings:
        audio = Path(tmp) / "long.wav"
        write_wav(audio, args.mb)
        size = audio.stat().st_size
        with served(Path(tmp) / "data", "+15550300001", **settings) as server:
            client = linq.LinqAPIV3(api_key=server.api_key, base_url=server.base_url)
            baseline = {pid: peak_kb(pid) for pid in family(server.pid)}
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
            peaks = {pid: peak_kb(pid) for pid in family(server.pid)}
            server_pid = server.pid
        print(
            f"upload: {size / 1e6:.1f} MB WAV, HTTP {put.status_code}, duration_ms {put.json().get('duration_ms')}, "
            f"{elapsed:.2f} s ({size / 1e6 / elapsed:.0f} MB/s incl. exact decode)"
        )
        before, after = baseline[server_pid] / 1024, peaks[server_pid] / 1024
        print(f"server process peak RSS: {after:.0f} MB (before upload {before:.0f} MB)")
        workers = {pid: kb for pid, kb in peaks.items() if pid != server_pid}
        for pid, kb in sorted(workers.items()):
            print(f"  child {pid} peak RSS: {kb / 1024:.0f} MB")
        print(f"file size / server peak growth: {size / 1024 / max(1, peaks[server_pid] - baseline[server_pid]):.0f}x")


if __name__ == "__main__":
    main()
