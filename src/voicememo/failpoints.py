"""Failpoints: named steps at which a test can make the process SIGKILL itself.

Crash safety is a claim about every step of a request; a test proves it by dying at each named
point (``VOICEMEMO_FAILPOINTS=idempotency.before_store``) and checking what a restart finds. Off
unless that testing-only setting names the point.
"""

from __future__ import annotations

import os
import signal


def hit(enabled: str, name: str) -> None:
    if enabled and name in {p.strip() for p in enabled.split(",")}:
        os.kill(os.getpid(), signal.SIGKILL)
