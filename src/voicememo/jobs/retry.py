"""Retry policy as a pure object: exponential backoff with full jitter and an optional deadline.

The attempt cap is not the policy's: it is each job's own ``max_attempts``, stored when the job is
enqueued (and shown by ``voicememo jobs list``), so what an operator sees is what the worker does,
and a job queued before a setting changed keeps the cap it was queued with.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta


@dataclass(frozen=True)
class RetryPolicy:
    base_seconds: float = 2.0
    max_delay_seconds: float = 300.0
    #: give up once this long has passed since the first attempt (None: attempts only)
    give_up_after: timedelta | None = None
    rng: random.Random = field(default_factory=random.Random, compare=False, repr=False)

    def delay(self, attempt: int) -> float:
        """Seconds before retry number ``attempt`` (1 = the first retry): full jitter on 2^n growth."""
        ceiling = min(self.max_delay_seconds, self.base_seconds * math.pow(2, attempt - 1))
        jitter: float = self.rng.uniform(0, ceiling / 2)
        return ceiling / 2 + jitter

    def next_run(self, attempt: int, now: datetime, started: datetime, *, max_attempts: int) -> datetime | None:
        """When to try again after ``attempt`` failed attempts of a job allowed ``max_attempts``, or None to give up."""
        if attempt >= max_attempts:
            return None
        when = now + timedelta(seconds=self.delay(attempt))
        if self.give_up_after is not None and when - started > self.give_up_after:
            return None
        return when
