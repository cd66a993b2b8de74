"""30 messages per 60 s per (line, recipient), with the `limits` library (memory storage for now)."""

from __future__ import annotations

import math
import time
from collections.abc import Iterable

from limits import parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from voicememo.errors import RateLimited


class RecipientRateLimiter:
    def __init__(self, rule: str) -> None:
        self.item = parse(rule)
        self._limiter = MovingWindowRateLimiter(MemoryStorage())

    def check_and_hit(self, line: str, recipients: Iterable[str]) -> None:
        """Count one message to every recipient, or refuse the whole send if any pair is over the limit."""
        handles = list(recipients)
        for handle in handles:
            if not self._limiter.test(self.item, line, handle):
                reset = self._limiter.get_window_stats(self.item, line, handle).reset_time
                wait = max(1, math.ceil(reset - time.time()))
                raise RateLimited(
                    f"Rate limit: at most {self.item.amount} messages per {self.item.get_expiry()} s from {line} "
                    f"to {handle}; retry in {wait} s.",
                    retry_after=wait,
                )
        for handle in handles:
            self._limiter.hit(self.item, line, handle)
