"""`voicememo serve` as a subprocess on a fresh data dir, with a partner, for the benchmarks."""

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


@contextmanager
def served(data_dir: Path, line: str, **settings: str) -> Iterator[Served]:
    """Start the server (settings as VOICEMEMO_* names without the prefix) and stop it gracefully."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {
        **os.environ,
        "VOICEMEMO_DATA_DIR": str(data_dir),
        "VOICEMEMO_PORT": str(port),
        **{f"VOICEMEMO_{k.upper()}": v for k, v in settings.items()},
    }
    made = json.loads(
        subprocess.run(
            [str(BIN), "partners", "create", "Bench", "--line", line, "--json"],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    proc = subprocess.Popen([str(BIN), "serve"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    for output in proc.stdout:
        if "Application startup complete" in output:
            break
    threading.Thread(target=proc.stdout.read, daemon=True).start()  # drain: a full pipe would block it
    try:
        yield Served(f"http://127.0.0.1:{port}", made["api_key"], proc.pid)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
