"""The per-(line, recipient) limit on the embedded memory storage and on the real Redis at 127.0.0.1:6379."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from limits.aio.storage import Storage

from clocks import Clock
from voicememo.errors import RateLimited
from voicememo.services.ratelimit import CallbackRateLimiter, Load, RecipientRateLimiter, rate_limit_storage

REDIS_URL = "redis://127.0.0.1:6379/0"
LINE = "+15550100001"
T0 = datetime(2026, 11, 30, 12, 0, 0, tzinfo=UTC)  # the start of a 60 s window


@pytest.fixture
async def redis_prefix() -> AsyncIterator[str]:
    """A key prefix of this test's own; every key under it is deleted afterwards."""
    prefix = f"voicememo-test-{uuid.uuid4().hex}"
    yield prefix
    await rate_limit_storage(REDIS_URL, key_prefix=prefix).reset()


def limiter(storage: Storage, clock: Clock, rule: str = "3 per 60 seconds") -> RecipientRateLimiter:
    return RecipientRateLimiter(rule, storage, clock)


async def send(rl: RecipientRateLimiter, *to: str) -> None:
    await rl.check(LINE, to)
    await rl.count(LINE, to)


@pytest.mark.anyio
async def test_two_processes_on_redis_share_one_limit(redis_prefix: str) -> None:
    clock = Clock(T0)
    first = limiter(rate_limit_storage(REDIS_URL, key_prefix=redis_prefix), clock)
    second = limiter(rate_limit_storage(REDIS_URL, key_prefix=redis_prefix), clock)
    await send(first, "+15557654320")
    await send(second, "+15557654320")
    await send(first, "+15557654320")
    with pytest.raises(RateLimited) as refused:
        await second.check(LINE, ["+15557654320"])
    assert refused.value.retry_after == 80  # the next window, until 3 · (1 - e) ≤ 2
    await second.check(LINE, ["+15557654321"])  # another recipient has its own limit
    clock.now += timedelta(seconds=120)  # the injected clock decides, not Redis' time
    await send(second, "+15557654320")


@pytest.mark.anyio
async def test_memory_storage_is_per_process(redis_prefix: str) -> None:
    clock = Clock(T0)
    first, second = limiter(rate_limit_storage(None), clock), limiter(rate_limit_storage(None), clock)
    for _ in range(3):
        await send(first, "+15557654320")
    with pytest.raises(RateLimited):
        await first.check(LINE, ["+15557654320"])
    await second.check(LINE, ["+15557654320"])


@pytest.mark.parametrize("where", ["memory", "redis"])
@pytest.mark.anyio
async def test_checking_does_not_count_and_a_group_send_counts_every_recipient(where: str, redis_prefix: str) -> None:
    clock = Clock(T0)
    rl = limiter(rate_limit_storage(REDIS_URL if where == "redis" else None, key_prefix=redis_prefix), clock)
    for _ in range(10):
        await rl.check(LINE, ["+15557654320", "+15557654321"])
    for _ in range(3):
        await send(rl, "+15557654320", "+15557654321")
    for handle in ("+15557654320", "+15557654321"):
        with pytest.raises(RateLimited):
            await rl.check(LINE, ["+15557654399", handle])  # one full pair refuses the whole send


@pytest.mark.anyio
async def test_the_previous_window_decays_with_the_clock() -> None:
    clock = Clock(T0)
    rl = limiter(rate_limit_storage(None), clock)
    clock.now += timedelta(seconds=50)
    for _ in range(3):
        await send(rl, "+15557654320")
    clock.now += timedelta(seconds=20)  # 10 s into the next window: 3 · 50/60 = 2.5 still weigh
    with pytest.raises(RateLimited) as refused:
        await rl.check(LINE, ["+15557654320"])
    assert refused.value.retry_after == 10  # 3 · (1 - e) ≤ 2 once e ≥ 1/3: at 20 s into the window
    clock.now += timedelta(seconds=9)
    with pytest.raises(RateLimited):
        await rl.check(LINE, ["+15557654320"])
    clock.now += timedelta(seconds=1)
    await send(rl, "+15557654320")
    with pytest.raises(RateLimited):
        await rl.check(LINE, ["+15557654320"])


def test_retry_after_never_promises_room_too_early() -> None:
    for previous in range(0, 6):
        for current in range(0, 6):
            for tenth in range(10):
                load = Load(previous, current, tenth / 10)
                if load.weighted + 1 <= 5:
                    continue
                wait = load.retry_after(5, 60.0)
                later = _after(load, wait, 60.0)
                assert later.weighted + 1 <= 5 + 1e-9, (load, wait)


def _after(load: Load, seconds: float, period: float) -> Load:
    elapsed = load.elapsed + seconds / period
    if elapsed < 1:
        return Load(load.previous, load.current, elapsed)
    if elapsed < 2:
        return Load(load.current, 0, elapsed - 1)
    return Load(0, 0, elapsed % 1)


@pytest.mark.anyio
async def test_an_unreachable_redis_lets_sends_through() -> None:
    rl = limiter(rate_limit_storage("redis://127.0.0.1:1/0"), Clock(T0), "1 per 60 seconds")
    for _ in range(3):
        await send(rl, "+15557654320")


@pytest.mark.anyio
async def test_provider_callbacks_of_one_line_are_limited_across_processes_on_redis(redis_prefix: str) -> None:
    first = CallbackRateLimiter("3 per 60 seconds", rate_limit_storage(REDIS_URL, key_prefix=redis_prefix))
    second = CallbackRateLimiter("3 per 60 seconds", rate_limit_storage(REDIS_URL, key_prefix=redis_prefix))
    assert [await first.allow("line-a"), await second.allow("line-a"), await first.allow("line-a")] == [True] * 3
    assert not await second.allow("line-a")  # the fourth, through the other process
    assert await second.allow("line-b")  # per line


@pytest.mark.anyio
async def test_an_unreachable_redis_lets_provider_callbacks_through() -> None:
    hooks = CallbackRateLimiter("1 per 60 seconds", rate_limit_storage("redis://127.0.0.1:1/0"))
    assert await hooks.allow("line-a")
    assert await hooks.allow("line-a")
