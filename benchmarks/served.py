"""`voicememo serve` (and peers) as subprocesses on a fresh data dir, for the benchmarks."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

BIN = Path(sys.executable).with_name("voicememo")


@dataclass(frozen=True)
class Served:
    base_url: str
    api_key: str
    pid: int


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def environment(data_dir: Path, **settings: str) -> dict[str, str]:
    return {
        **os.environ,
        "VOICEMEMO_DATA_DIR": str(data_dir),
        **{f"VOICEMEMO_{k.upper()}": v for k, v in settings.items()},
    }


def create_partner(data_dir: Path, line: str, **settings: str) -> str:
    """A partner with a sandbox line; returns its API key."""
    made = json.loads(
        subprocess.run(
            [str(BIN), "partners", "create", "Bench", "--line", line, "--json"],
            env=environment(data_dir, **settings),
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    return str(made["api_key"])


@contextmanager
def process(command: list[str], env: dict[str, str], ready: str | None = "Uvicorn running on") -> Iterator[int]:
    """Run ``command`` until the block ends (SIGTERM, then wait); with ``ready``, wait for that line first
    (uvicorn logs "Application startup complete" before it binds; "Uvicorn running on" once it listens)."""
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    if ready is not None:
        for output in proc.stdout:
            if ready in output:
                break
    threading.Thread(target=proc.stdout.read, daemon=True).start()  # drain: a full pipe would block it
    try:
        yield proc.pid
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)


@contextmanager
def served(data_dir: Path, line: str, **settings: str) -> Iterator[Served]:
    """Start the server (settings as VOICEMEMO_* names without the prefix) and stop it gracefully."""
    api_key = create_partner(data_dir, line, **settings)
    with serve_only(data_dir, **settings) as (base_url, pid):
        yield Served(base_url, api_key, pid)


@contextmanager
def serve_only(data_dir: Path, **settings: str) -> Iterator[tuple[str, int]]:
    """One more `voicememo serve` on the same data dir and database; yields its base URL and pid."""
    port = free_port()
    env = environment(data_dir, port=str(port), **settings)
    with process([str(BIN), "serve"], env) as pid:
        yield f"http://127.0.0.1:{port}", pid
