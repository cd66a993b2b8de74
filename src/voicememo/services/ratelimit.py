"""30 messages per 60 s per (line, recipient), shared by every API process when Redis is configured.

A send is *checked* before any expensive work (fetch, decode, write) and *counted* once, after its
message has committed; a retried transaction therefore counts once, and a refused or failed send
not at all.

Why not `limits`' own strategies: they read `time.time()` and cannot take our injected clock. We keep
the `limits` storages (memory, or Redis through `limits[redis]`, whose counters are atomic INCRs) and
count in them ourselves with the sliding-window counter the library describes: the fixed windows are
numbered by the *clock's* time, and a pair's load is this window's count plus the previous window's,
weighted by how much of it still overlaps the last period. Storage expiry only collects old
counters (2 periods of wall time), it never decides a limit.

The window between check and count: sends to one pair that are in flight together all pass the check
before any of them counts, so a burst can overshoot the limit by the number of sends accepted
concurrently for that pair (each is one request's accept time, milliseconds on an attachment, up to a
fetch + decode by URL). The limit protects recipients from floods, not a budget to the message, and
that overshoot is bounded by a caller's concurrency; counting before the work instead would charge
refused and failed sends.

When the storage is unreachable, sends go through (logged): a rate limiter must not take sending down.

Provider callbacks (``/hooks/lines/…``) are limited per line by ``CallbackRateLimiter`` in the same
storage: with Redis, every API process counts a line's callbacks together.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from limits import parse
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter

from voicememo.errors import RateLimited

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Load:
    """One pair's counters: the previous window's, this window's, and how far into this window we are."""

    previous: int
    current: int
    elapsed: float  # 0 ≤ elapsed < 1, fraction of the period

    @property
    def weighted(self) -> float:
        return self.previous * (1 - self.elapsed) + self.current

    def retry_after(self, amount: int, period: float) -> int:
        """Seconds until one more message fits (at least 1)."""
        room = amount - 1  # the weighted load must fall to this for one more to fit
        if self.current <= room and self.previous > 0:
            # still in this window, the previous window's share decays: previous·(1 - e) + current ≤ room
            elapsed = 1 - (room - self.current) / self.previous
            wait = (elapsed - self.elapsed) * period
        else:
            # next window: this window's count becomes the decaying one, current·(1 - e) ≤ room
            elapsed = 1 - room / self.current if self.current else 0.0
            wait = (1 - self.elapsed + elapsed) * period
        return max(1, math.ceil(wait - 1e-9))


class RecipientRateLimiter:
    def __init__(self, rule: str, storage: Storage, clock: Callable[[], datetime], *, namespace: str = "rl") -> None:
        item = parse(rule)
        self.amount = item.amount
        self.period = float(item.get_expiry())
        self._storage = storage
        self._clock = clock
        self._namespace = namespace

    async def check(self, line: str, recipients: Iterable[str]) -> None:
        """Refuse the whole send if any (line, recipient) pair has no room for one more message."""
        for handle in recipients:
            load = await self._load(line, handle)
            if load is not None and load.weighted + 1 > self.amount + 1e-9:  # float dust at a boundary
                wait = load.retry_after(self.amount, self.period)
                raise RateLimited(
                    f"Rate limit: at most {self.amount} messages per {self.period:g} s from {line} "
                    f"to {handle}; retry in {wait} s.",
                    retry_after=wait,
                )

    async def count(self, line: str, recipients: Iterable[str]) -> None:
        """Count one accepted message to every recipient (after it committed: never raises)."""
        window = self._window()[0]
        for handle in recipients:
            try:
                await self._storage.incr(self._key(line, handle, window), math.ceil(2 * self.period))
            except Exception as exc:
                log.warning("rate_limit_unavailable", action="count_skipped", line=line, error=repr(exc))
                return

    async def _load(self, line: str, handle: str) -> Load | None:
        window, elapsed = self._window()
        try:
            previous = await self._storage.get(self._key(line, handle, window - 1))
            current = await self._storage.get(self._key(line, handle, window))
        except Exception as exc:
            log.warning("rate_limit_unavailable", action="check_skipped", line=line, error=repr(exc))
            return None
        return Load(previous, current, elapsed)

    def _window(self) -> tuple[int, float]:
        window, into = divmod(self._clock().timestamp(), self.period)
        return int(window), into / self.period

    def _key(self, line: str, handle: str, window: int) -> str:
        return f"{self._namespace}/{line}/{handle}/{window}"


class CallbackRateLimiter:
    """At most ``rule`` provider callbacks per line (a flood guard: wall-clock moving window, `limits`' own)."""

    def __init__(self, rule: str, storage: Storage, *, namespace: str = "hooks") -> None:
        self._item = parse(rule)
        self._limiter = MovingWindowRateLimiter(storage)
        self._namespace = namespace

    async def allow(self, line_id: str) -> bool:
        """Count one callback; False when the line is over its limit (True when the storage is unreachable)."""
        try:
            return await self._limiter.hit(self._item, self._namespace, line_id)
        except Exception as exc:
            log.warning("rate_limit_unavailable", action="check_skipped", line=line_id, error=repr(exc))
            return True


def rate_limit_storage(redis_url: str | None, *, key_prefix: str = "voicememo") -> Storage:
    """Redis (shared by every process) when a URL is configured, else this process's memory."""
    if not redis_url:
        return MemoryStorage()
    uri = redis_url if redis_url.startswith("async+") else f"async+{redis_url}"
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff

    # Short timeouts and no retries (redis-py retries 3 times with back-off by default, ~0.7 s a call
    # against a refused port): with Redis down a send waits at most a second for its limit, then passes.
    client_options: dict[str, Any] = {
        "socket_connect_timeout": 0.5,
        "socket_timeout": 0.5,
        "retry": Retry(NoBackoff(), 0),
    }
    return RedisStorage(uri, implementation="redispy", key_prefix=key_prefix, **client_options)
