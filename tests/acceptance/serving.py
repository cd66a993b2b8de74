"""A real `voicememo serve` in its own process group, to SIGKILL and start again on the same data dir."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, suppress
from pathlib import Path

import httpx
import linq
import pytest
from test_cli_and_serve import BIN

import testdb


@contextmanager
def voicememo_process(
    command: list[str],
    data_dir: Path,
    is_up: Callable[[Iterator[str]], None],
    keep: list[str] | None = None,
    *,
    watchdog_seconds: float = 120,
    **settings: str,
) -> Iterator[subprocess.Popen[str]]:
    """A `voicememo` command in its own process group on ``data_dir``, until the block ends.

    ``is_up`` reads the process's output until it says it is up (no sleeps); a watchdog kills the group
    after ``watchdog_seconds`` whatever happens (a server shared by a module's tests needs longer), and
    leaving the block stops it (SIGTERM, then the group's leftovers).
    ``keep``: every line the process prints (stdout and stderr) is appended to it, as it arrives."""
    env = {
        **os.environ,
        **{f"VOICEMEMO_{k.upper()}": v for k, v in settings.items()},
        "VOICEMEMO_DATA_DIR": str(data_dir),
        **testdb.database_env(data_dir),
    }
    proc = subprocess.Popen(
        [str(BIN), *command], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,
    )  # fmt: skip
    watchdog = threading.Timer(watchdog_seconds, lambda: os.killpg(proc.pid, signal.SIGKILL))
    watchdog.daemon = True
    watchdog.start()
    assert proc.stdout is not None
    lines: Iterator[str] = iter(proc.stdout)
    if keep is not None:
        lines = (keep.append(line) or line for line in lines)
    is_up(lines)
    drain = threading.Thread(target=lambda: all(True for _ in lines), daemon=True)  # a full pipe would block it
    drain.start()
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
        watchdog.cancel()
        # the audio pool of a SIGKILLed process goes with its process group
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        if keep is not None:
            drain.join(timeout=10)  # the last lines (shutdown) are kept too: the pipe ends with the group


def serving(
    data_dir: Path,
    port: int,
    failpoints: str = "",
    processes: int = 1,
    keep: list[str] | None = None,
    *,
    watchdog_seconds: float = 120,
    **settings: str,
) -> AbstractContextManager[subprocess.Popen[str]]:
    """``processes``: `serve --workers`; ``settings``: more VOICEMEMO_* variables, by their lower-case name;
    ``keep``: collects the server's output lines; ``watchdog_seconds``: the server is killed after this long
    whatever happens (a module's worth of tests on a busy machine needs more than the default)."""

    def is_up(lines: Iterator[str]) -> None:
        started = 0
        for line in lines:
            if processes == 1:
                if "Uvicorn running on" in line:  # printed once the socket listens (startup complete comes before)
                    return
                continue
            # several processes: the supervisor binds the socket, each child listens once its app has started
            started += "Application startup complete" in line
            if started == processes:
                return

    command = ["serve", *(("--workers", str(processes)) if processes > 1 else ())]
    more = {"port": str(port), "failpoints": failpoints, "sandbox_read_delay": "-1"}
    return voicememo_process(command, data_dir, is_up, keep, watchdog_seconds=watchdog_seconds, **{**settings, **more})


def client(port: int, key: str) -> linq.LinqAPIV3:
    return linq.LinqAPIV3(api_key=key, base_url=f"http://127.0.0.1:{port}", max_retries=0)


def died(proc: subprocess.Popen[str], call: object) -> None:
    """The request must kill the server before any answer reaches the client."""
    assert callable(call)
    with pytest.raises((linq.APIConnectionError, httpx.TransportError)):
        call()
    assert proc.wait(timeout=60) == -signal.SIGKILL
