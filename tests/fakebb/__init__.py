"""A fake BlueBubbles server (a Mac's side) for tests and for trying voicememo out without a Mac."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import uvicorn

from fakebb.app import build_app
from fakebb.state import FakeMac, Fault, Received


@dataclass
class RunningMac:
    url: str
    mac: FakeMac
    stop: Callable[[], None]


@contextmanager
def running_mac(mac: FakeMac | None = None, port: int = 0) -> Iterator[RunningMac]:
    """The fake on 127.0.0.1 (uvicorn in a thread, real HTTP); ``port``: come back where it was."""
    mac = mac or FakeMac()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(128)
    config = uvicorn.Config(build_app(mac), log_level="warning", lifespan="off", timeout_graceful_shutdown=1)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()

    def stop() -> None:
        """The Mac goes away: its port refuses connections from now on."""
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()

    try:
        yield RunningMac(f"http://127.0.0.1:{sock.getsockname()[1]}", mac, stop)
    finally:
        stop()


__all__ = ["FakeMac", "Fault", "Received", "RunningMac", "running_mac"]
