"""`voicememo send --wait`: follow a message's status until it is delivered, read or failed.

A CLI has no push channel (webhooks need a reachable URL), so it polls ``GET /v3/messages/{id}``
with back-off: quick at first, when a sandbox or a Mac answers in under a second, then every few
seconds. Each step is reported once, with the server's own time for it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from voicememo.cli.partnerapi import PartnerApi

FINAL = ("delivered", "read", "failed")
#: the forward steps and the field holding when each happened
STEPS = (("sent", "sent_at"), ("delivered", "delivered_at"), ("read", "read_at"))


@dataclass
class Followed:
    status: str
    timed_out: bool = False
    error_code: int | None = None
    error_reason: str | None = None
    transitions: list[dict[str, str]] = field(default_factory=list)


def follow(
    api: PartnerApi,
    message_id: str,
    timeout: float,
    report: Callable[[str, str], None],
    show: Callable[[str], None],
    *,
    first_delay: float = 0.2,
    max_delay: float = 3.0,
) -> Followed:
    """Poll until a final status or ``timeout`` seconds; ``report(status, at)`` for each new step,
    ``show(text)`` for the live status line."""
    deadline = time.monotonic() + timeout
    delay = first_delay
    seen: set[str] = set()
    result = Followed(status="queued")
    while True:
        message = api.message(message_id)
        result.status = str(message["delivery_status"])
        for status, at in _new_steps(message, seen):
            seen.add(status)
            result.transitions.append({"status": status, "at": at})
            report(status, at)
        if result.status in FINAL:
            if result.status == "failed":
                result.error_code = message.get("error_code")
                result.error_reason = message.get("error_reason")
            return result
        left = deadline - time.monotonic()
        if left <= 0:
            result.timed_out = True
            return result
        show(f"{result.status} — waiting for delivery ({left:.0f} s left)")
        time.sleep(min(delay, left))
        delay = min(delay * 1.5, max_delay)


def _new_steps(message: dict[str, Any], seen: set[str]) -> list[tuple[str, str]]:
    """The steps this read shows that were not reported yet, in order (a quick message may have
    passed several between two polls)."""
    steps = [(status, message.get(key)) for status, key in STEPS]
    if message["delivery_status"] == "failed":
        steps.append(("failed", message.get("updated_at")))
    return [(status, _at(when)) for status, when in steps if when and status not in seen]


def _at(when: Any) -> str:
    """The server's RFC 3339 time, as given; local now when it cannot be read."""
    try:
        return datetime.fromisoformat(str(when)).isoformat()
    except ValueError:
        return datetime.now().astimezone().isoformat()
