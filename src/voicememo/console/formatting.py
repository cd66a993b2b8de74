"""How the console writes durations and times: Jinja filters."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from voicememo.domain.waveform import format_duration


def clock(when: datetime | None) -> str:
    return when.strftime("%H:%M:%S") if when else ""


def iso(when: datetime | None) -> str:
    return when.isoformat(timespec="seconds") if when else ""


def day_and_clock(when: datetime | None) -> str:
    return when.strftime("%Y-%m-%d %H:%M:%S UTC") if when else ""


def age(seconds: float | None) -> str:
    """How long ago, in the largest whole unit that fits (for queue ages)."""
    if seconds is None:
        return "–"
    for size, unit in ((86400, "d"), (3600, "h"), (60, "min")):
        if seconds >= size:
            return f"{seconds / size:.0f} {unit}"
    return f"{seconds:.0f} s"


FILTERS: dict[str, Callable[..., Any]] = {
    "duration": format_duration,
    "clock": clock,
    "iso": iso,
    "day_and_clock": day_and_clock,
    "age": age,
}
