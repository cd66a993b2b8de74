"""How the console writes durations, times and a message's progress: small pure functions."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from voicememo.domain.models import DeliveryStatus, Message


def duration(ms: int | None) -> str:
    """m:ss, as the Messages app writes a memo's length (rounded to the nearest second, at least 0:01)."""
    if ms is None:
        return "–:––"
    seconds = max(1, round(ms / 1000)) if ms > 0 else 0
    minutes, rest = divmod(seconds, 60)
    return f"{minutes}:{rest:02d}"


def clock(when: datetime | None) -> str:
    return when.strftime("%H:%M:%S") if when else ""


def iso(when: datetime | None) -> str:
    return when.isoformat(timespec="seconds") if when else ""


def day_and_clock(when: datetime | None) -> str:
    return when.strftime("%Y-%m-%d %H:%M:%S UTC") if when else ""


@dataclass(frozen=True)
class Tick:
    step: str
    at: datetime | None
    done: bool


_STEPS = (DeliveryStatus.QUEUED, DeliveryStatus.SENT, DeliveryStatus.DELIVERED, DeliveryStatus.READ)


def ticks(message: Message) -> list[Tick]:
    """queued → sent → delivered → read, each with its time once reached (a failed memo: see its error)."""
    times = {
        DeliveryStatus.QUEUED: message.created_at,
        DeliveryStatus.SENT: message.sent_at,
        DeliveryStatus.DELIVERED: message.delivered_at,
        DeliveryStatus.READ: message.read_at,
    }
    reached = _STEPS.index(message.delivery_status) if message.delivery_status in _STEPS else 0
    return [Tick(step.value, times[step], i <= reached or times[step] is not None) for i, step in enumerate(_STEPS)]


FILTERS: dict[str, Callable[..., Any]] = {
    "duration": duration,
    "clock": clock,
    "iso": iso,
    "day_and_clock": day_and_clock,
}
