"""A pid that certainly ran and has exited: what a crashed process leaves in its claims and file names."""

from __future__ import annotations

import subprocess
import sys


def a_dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid
