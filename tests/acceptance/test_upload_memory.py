"""A 100 MB pre-upload keeps the server's memory flat, on local files and on S3 (moto on loopback):
the body is streamed to a temp file, checked in the audio pool, then stored (renamed, or sent to the
bucket as a multipart upload read from disk in parts), and downloaded again as a stream."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import wave
from pathlib import Path

import httpx
import numpy as np
import pytest
from serving import client, serving
from test_cli_and_serve import BIN, free_port

import s3server
import testdb

MB = 1024 * 1024
#: what the server process may grow by while 100 MB pass through it (measured: +7 MB local, +17 MB S3)
ALLOWED_GROWTH_MB = 40


def peak_rss_mb(pid: int) -> float:
    """The process's peak resident set so far (VmHWM), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM in /proc (Linux only)")


def write_wav(path: Path, size: int) -> None:
    """A 48 kHz stereo tone, just under ``size`` bytes, written 10 s at a time."""
    rate = 48000
    t = np.arange(rate * 10) / rate
    block = np.repeat((np.sin(2 * np.pi * 220 * t) * 8000).astype("<i2"), 2).tobytes()
    with wave.open(str(path), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(rate)
        while path.stat().st_size + len(block) <= size:
            w.writeframes(block)


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads peak RSS from /proc")
@pytest.mark.parametrize("store", ["local", "s3"])
def test_100_mb_upload_and_download_keep_server_memory_flat(
    store: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    audio = tmp_path / "long.wav"
    write_wav(audio, 100 * MB)
    size = audio.stat().st_size
    data = tmp_path / "data"
    env = s3server.new_bucket(request.getfixturevalue("s3_endpoint")).env() if store == "s3" else {}
    made = json.loads(_cli(data, env, "partners", "create", "Acme", "--line", "+15550700001", "--json").stdout)
    port = free_port()
    settings = {k.removeprefix("VOICEMEMO_").lower(): v for k, v in env.items()}
    with serving(data, port, **settings) as proc:
        sdk = client(port, made["api_key"])
        before = peak_rss_mb(proc.pid)
        slot = sdk.attachments.create(filename="long.wav", content_type="audio/wav", size_bytes=size)
        with open(audio, "rb") as fh:
            put = httpx.put(
                slot.upload_url,
                content=iter(lambda: fh.read(MB), b""),
                headers={**slot.required_headers, "Content-Length": str(size)},
                timeout=300,
            )
        assert put.status_code == 200, put.text
        after_upload = peak_rss_mb(proc.pid)
        digest = hashlib.sha256()
        with httpx.stream("GET", sdk.attachments.retrieve(slot.attachment_id).download_url, timeout=300) as got:
            assert got.status_code == 200
            for chunk in got.iter_bytes():
                digest.update(chunk)
        after_download = peak_rss_mb(proc.pid)
    assert digest.hexdigest() == hashlib.sha256(audio.read_bytes()).hexdigest()
    print(f"{store}: server peak RSS {before:.0f} MB → {after_upload:.0f} (upload) → {after_download:.0f} MB")
    assert after_upload - before < ALLOWED_GROWTH_MB, (before, after_upload)
    assert after_download - before < ALLOWED_GROWTH_MB, (before, after_download)


def _cli(data: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "VOICEMEMO_DATA_DIR": str(data), **testdb.database_env(data), **env}
    return subprocess.run([str(BIN), *args], capture_output=True, text=True, env=full, check=True, timeout=120)
