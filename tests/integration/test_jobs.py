"""The jobs table and the worker on a real database (SQLite, or PostgreSQL when asked), with an injectable clock."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta

import pytest

import testdb
from clocks import Clock
from voicememo.jobs.retry import RetryPolicy
from voicememo.jobs.worker import Wakeup, Worker
from voicememo.storage.db import Database
from voicememo.storage.repos.job_admin import JobAdminRepo
from voicememo.storage.repos.jobs import Job, JobRepo

T0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
LEASE = timedelta(seconds=30)


async def enqueue(
    db: Database, kind: str = "k", order_key: str | None = None, at: datetime = T0, max_attempts: int = 3
) -> int:
    async with db.write() as s:
        return await JobRepo(s).enqueue(kind, {"n": 1}, now=at, order_key=order_key, max_attempts=max_attempts)


async def claim(db: Database, worker: str, now: datetime, limit: int = 10) -> list[Job]:
    async with db.write() as s:
        return await JobRepo(s).claim(worker, now=now, lease=LEASE, limit=limit)


@pytest.mark.anyio
async def test_lease_expiry_hands_the_job_to_another_worker_with_fencing(db: Database) -> None:
    job_id = await enqueue(db)
    assert [j.id for j in await claim(db, "a", T0)] == [job_id]
    assert await claim(db, "b", T0 + timedelta(seconds=29)) == []  # leased
    taken = await claim(db, "b", T0 + timedelta(seconds=31))  # "a" died: its lease ran out
    assert [(j.id, j.attempts) for j in taken] == [(job_id, 2)]
    async with db.write() as s:
        assert not await JobRepo(s).finish(job_id, "a", now=T0)  # the dead owner cannot settle it
        assert not await JobRepo(s).heartbeat(job_id, "a", until=T0 + LEASE)
        assert await JobRepo(s).finish(job_id, "b", now=T0)
        assert await JobRepo(s).counts() == {"done": 1}
    await db.dispose()


@pytest.mark.anyio
async def test_heartbeat_keeps_the_lease(db: Database) -> None:
    job_id = await enqueue(db)
    await claim(db, "a", T0)
    async with db.write() as s:
        assert await JobRepo(s).heartbeat(job_id, "a", until=T0 + timedelta(seconds=90))
    assert await claim(db, "b", T0 + timedelta(seconds=60)) == []
    await db.dispose()


@pytest.mark.anyio
async def test_jobs_with_one_order_key_run_one_after_another(db: Database) -> None:
    first = await enqueue(db, order_key="wh:sub:msg")
    second = await enqueue(db, order_key="wh:sub:msg")
    other = await enqueue(db, order_key="wh:sub:other")
    assert sorted(j.id for j in await claim(db, "a", T0)) == [first, other]
    async with db.write() as s:  # the first fails and is retried later: the second still waits
        await JobRepo(s).retry(first, "a", now=T0, run_at=T0 + timedelta(seconds=10), error="500")
    assert await claim(db, "a", T0 + timedelta(seconds=5)) == []
    assert [j.id for j in await claim(db, "a", T0 + timedelta(seconds=11))] == [first]
    async with db.write() as s:
        await JobRepo(s).finish(first, "a", now=T0)
    assert [j.id for j in await claim(db, "a", T0 + timedelta(seconds=12))] == [second]
    await db.dispose()


@pytest.mark.anyio
async def test_a_claim_in_flight_is_skipped_by_other_claimers_never_doubled(db: Database) -> None:
    ids = [await enqueue(db) for _ in range(4)]
    other = Database(db.url)  # another process's pool
    try:
        async with db.write() as s:
            first = await JobRepo(s).claim("a", now=T0, lease=LEASE, limit=2)
            second = asyncio.create_task(claim(other, "b", T0))
            if testdb.is_postgresql():
                # FOR UPDATE SKIP LOCKED: "b" takes the rest at once, without waiting for "a" to commit
                # (a claimer that waited on a's row locks would hang here: the guard turns that into a failure)
                await asyncio.wait_for(asyncio.shield(second), timeout=20)
        taken = await asyncio.wait_for(second, timeout=20)  # SQLite: "b" waits for a's IMMEDIATE transaction
        assert sorted(j.id for j in first + taken) == ids
        assert {j.id for j in first}.isdisjoint(j.id for j in taken)
    finally:
        await other.dispose()
        await db.dispose()


@pytest.mark.anyio
async def test_concurrent_claimers_take_every_job_exactly_once(db: Database) -> None:
    ids = [await enqueue(db) for _ in range(40)]
    pools = [Database(db.url) for _ in range(4)]

    async def drain(pool: Database, worker: str) -> list[int]:
        mine: list[int] = []
        while batch := await claim(pool, worker, T0, limit=3):
            mine += [j.id for j in batch]
        return mine

    try:
        taken = await asyncio.gather(*(drain(pool, f"w{i}") for i, pool in enumerate(pools)))
    finally:
        for pool in pools:
            await pool.dispose()
        await db.dispose()
    claimed = [job_id for mine in taken for job_id in mine]
    assert sorted(claimed) == ids  # none lost, none twice


def test_retry_policy_backs_off_with_jitter_and_gives_up() -> None:
    policy = RetryPolicy(base_seconds=2, max_delay_seconds=60, rng=random.Random(1))
    for attempt, ceiling in [(1, 2), (2, 4), (3, 8), (4, 16), (9, 60)]:
        assert ceiling / 2 <= policy.delay(attempt) <= ceiling
    assert policy.next_run(4, T0, T0, max_attempts=5) is not None
    assert policy.next_run(5, T0, T0, max_attempts=5) is None
    deadline = RetryPolicy(base_seconds=60, give_up_after=timedelta(minutes=30))
    assert deadline.next_run(1, T0 + timedelta(minutes=29, seconds=50), T0, max_attempts=100) is None


class Flaky:
    """Fails ``failures`` times, then succeeds; records what happened."""

    def __init__(self, failures: int, done: asyncio.Event) -> None:
        self.failures = failures
        self.done = done
        self.calls = 0
        self.gave_up: list[str] = []
        self.policy = RetryPolicy(base_seconds=0.01, max_delay_seconds=0.02)

    async def run(self, job: Job) -> None:
        self.calls += 1
        if self.calls <= self.failures:
            if self.calls == job.max_attempts:
                self.done.set()
            raise RuntimeError(f"boom {self.calls}")
        self.done.set()

    async def give_up(self, job: Job, reason: str) -> None:
        self.gave_up.append(reason)


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("failures", "max_attempts", "final", "calls"), [(2, 3, "done", 3), (5, 3, "dead", 3), (5, 2, "dead", 2)]
)
async def test_worker_retries_up_to_the_jobs_stored_cap_then_finishes_or_buries(
    db: Database, failures: int, max_attempts: int, final: str, calls: int
) -> None:
    done = asyncio.Event()
    handler = Flaky(failures, done)
    job_id = await enqueue(db, kind="flaky", at=datetime.now(UTC), max_attempts=max_attempts)
    stop = asyncio.Event()
    worker = Worker(db, {"flaky": handler}, clock=lambda: datetime.now(UTC), wakeup=Wakeup(), poll_interval=0.01)
    task = asyncio.create_task(worker.run(stop))
    await asyncio.wait_for(done.wait(), 10)
    stop.set()
    await asyncio.wait_for(task, 10)  # graceful: waits for the running job to settle
    async with db.read() as s:
        assert await JobRepo(s).counts() == {final: 1}
        [view] = await JobAdminRepo(s).find(statuses=(final,))
    assert handler.calls == calls
    assert handler.gave_up == ([] if final == "done" else [f"RuntimeError: boom {calls}"])
    # what `voicememo jobs list` shows (attempts/max_attempts) is what the worker did
    assert (view.id, view.attempts, view.max_attempts) == (job_id, calls, max_attempts)
    await db.dispose()


class Gated:
    """Runs until the test opens the gate."""

    def __init__(self) -> None:
        self.policy = RetryPolicy(base_seconds=0.01, max_delay_seconds=0.02)
        self.started = asyncio.Event()
        self.gate = asyncio.Event()

    async def run(self, job: Job) -> None:
        self.started.set()
        await self.gate.wait()

    async def give_up(self, job: Job, reason: str) -> None:
        raise AssertionError(reason)


@pytest.mark.anyio
async def test_shutdown_grace_hands_an_unfinished_job_back_uncounted(db: Database) -> None:
    handler = Gated()  # never opened: a job (a long render, say) that outlives the shutdown
    job_id = await enqueue(db, kind="stuck", at=datetime.now(UTC))
    now = lambda: datetime.now(UTC)  # noqa: E731
    stop = asyncio.Event()
    first = Worker(db, {"stuck": handler}, clock=now, poll_interval=0.01, grace=0.2, name="first")
    task = asyncio.create_task(first.run(stop))
    await asyncio.wait_for(handler.started.wait(), 10)
    stop.set()
    await asyncio.wait_for(task, 5)  # bounded by the grace, not by the stuck job
    async with db.read() as s:
        assert await JobRepo(s).counts() == {"queued": 1}
    # due now for the next worker, without waiting out the 30 s lease, and the attempt is not counted
    [again] = await claim(db, "second", datetime.now(UTC))
    assert (again.id, again.attempts) == (job_id, 1)
    await db.dispose()


@pytest.mark.anyio
async def test_shutdown_lets_a_running_job_finish_within_the_grace(db: Database) -> None:
    handler = Gated()
    await enqueue(db, kind="gated", at=datetime.now(UTC))
    stop = asyncio.Event()
    worker = Worker(db, {"gated": handler}, clock=lambda: datetime.now(UTC), poll_interval=0.01, grace=30)
    task = asyncio.create_task(worker.run(stop))
    await asyncio.wait_for(handler.started.wait(), 10)
    stop.set()
    await asyncio.wait_for(worker.draining.wait(), 5)
    assert not task.done()  # draining: waiting for the running job, which is not cancelled
    handler.gate.set()
    await asyncio.wait_for(task, 5)
    async with db.read() as s:
        assert await JobRepo(s).counts() == {"done": 1}
    await db.dispose()


class Stalled:
    """Blocks until cancelled; ``swallow`` makes it return anyway once cancelled (a handler that ignores it)."""

    def __init__(self, *, swallow: bool) -> None:
        self.policy = RetryPolicy(base_seconds=0.01, max_delay_seconds=0.02)
        self.swallow = swallow
        self.started = asyncio.Event()
        self.cancelled = asyncio.Event()
        self.gave_up: list[str] = []

    async def run(self, job: Job) -> None:
        self.started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.cancelled.set()
            if not self.swallow:
                raise

    async def give_up(self, job: Job, reason: str) -> None:
        self.gave_up.append(reason)


@pytest.mark.anyio
@pytest.mark.parametrize("swallow", [False, True])
async def test_a_worker_that_loses_its_lease_cancels_the_handler_and_leaves_the_job_alone(
    db: Database, swallow: bool
) -> None:
    clock = Clock(T0)  # stands still: the lease the heartbeat renews ends 0.3 s after T0, whatever it does
    handler = Stalled(swallow=swallow)
    job_id = await enqueue(db, kind="stalled", max_attempts=1)  # a settled failure would bury it at once
    stop = asyncio.Event()
    worker = Worker(db, {"stalled": handler}, clock=clock, lease=timedelta(seconds=0.3), poll_interval=3600, name="a")
    task = asyncio.create_task(worker.run(stop))
    await asyncio.wait_for(handler.started.wait(), 10)
    # "a" stalled past its lease (as far as the database can tell): another worker takes the job
    [stolen] = await claim(db, "thief", T0 + timedelta(seconds=1))
    assert (stolen.id, stolen.attempts) == (job_id, 2)
    await asyncio.wait_for(handler.cancelled.wait(), 10)  # a's next heartbeat finds the lease gone
    stop.set()
    await asyncio.wait_for(task, 10)
    async with db.write() as s:
        assert await JobRepo(s).counts() == {"running": 1}  # neither finished, retried, released nor buried by "a"
        assert handler.gave_up == []
        assert await JobRepo(s).finish(job_id, "thief", now=T0)  # still the thief's to settle
    await db.dispose()
