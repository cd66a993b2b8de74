"""A clock a test moves by hand: services take it where they would take ``utcnow``."""

from __future__ import annotations

from datetime import datetime


class Clock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now
