"""Who is running a piece of work, and whether that process can still be running it.

A claim (an Idempotency-Key in flight) names its process as ``host:pid:instance``. Another process
on the same host can tell for certain that the claimant is gone: its pid no longer exists, or the
pid now belongs to a different instance (a restart that reused the pid). Across hosts only the
claim's deadline can tell.
"""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ProcessId:
    host: str
    pid: int
    instance: str

    @classmethod
    def current(cls) -> ProcessId:
        return cls(socket.gethostname(), os.getpid(), uuid.uuid4().hex[:16])

    @classmethod
    def parse(cls, text: str) -> ProcessId | None:
        host, _, rest = text.rpartition(":")
        host, _, pid = host.rpartition(":")
        if not host or not pid.isdigit() or not rest:
            return None
        return cls(host, int(pid), rest)

    def __str__(self) -> str:
        return f"{self.host}:{self.pid}:{self.instance}"

    def knows_gone(self, other: ProcessId) -> bool:
        """True when ``other`` certainly no longer runs (decided from this process, on this host only)."""
        if other.host != self.host:
            return False
        if other.pid == self.pid:
            return other.instance != self.instance
        return not pid_alive(other.pid)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return True
