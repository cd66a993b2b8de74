"""Jobs sharing an order key run one at a time, in id order, held behind their head by the database's
triggers (migration 0008); on SQLite, or on PostgreSQL when asked."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import delete, select, text

import testdb
from voicememo.storage.db import Database
from voicememo.storage.migrate import alembic_config
from voicememo.storage.repos.job_admin import JobAdminRepo
from voicememo.storage.repos.jobs import DEAD, DONE, QUEUED, RUNNING, Job, JobRepo
from voicememo.storage.tables import JobRow

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
LEASE = timedelta(seconds=30)


async def enqueue(db: Database, order_key: str | None, at: datetime = T0) -> int:
    async with db.write() as s:
        return await JobRepo(s).enqueue("k", {}, now=at, order_key=order_key, max_attempts=3)


async def claim(db: Database, now: datetime = T0, limit: int = 100, worker: str = "w") -> list[int]:
    async with db.write() as s:
        return [j.id for j in await JobRepo(s).claim(worker, now=now, lease=LEASE, limit=limit)]


async def rows(db: Database) -> dict[int, tuple[str, bool, str | None]]:
    async with db.read() as s:
        found = await s.execute(select(JobRow.id, JobRow.status, JobRow.held, JobRow.order_key))
        return {r.id: (r.status, r.held, r.order_key) for r in found}


@pytest.mark.anyio
async def test_a_claim_takes_each_keys_head_however_long_the_backlog(db: Database) -> None:
    chats = [[await enqueue(db, f"chat:{c}") for _ in range(30)] for c in range(3)]
    loose = await enqueue(db, None)
    taken = await claim(db, limit=10)
    assert sorted(taken) == sorted([chat[0] for chat in chats] + [loose])  # limit 10, yet only 4 may run
    held = {job_id for job_id, (_, is_held, _) in (await rows(db)).items() if is_held}
    assert held == {job_id for chat in chats for job_id in chat[1:]}
    async with db.read() as s:
        assert await JobRepo(s).next_due() is None  # nothing else can run: a worker sleeps, not spins
    await db.dispose()


@pytest.mark.anyio
async def test_the_next_job_of_a_key_is_released_when_its_head_is_done_or_buried(db: Database) -> None:
    first, second, third = [await enqueue(db, "chat:a") for _ in range(3)]
    assert await claim(db) == [first]
    async with db.write() as s:
        await JobRepo(s).bury(first, "w", now=T0, error="gone")
    assert await claim(db) == [second]
    async with db.write() as s:
        await JobRepo(s).retry(second, "w", now=T0, run_at=T0 + timedelta(seconds=10), error="500")
    assert await claim(db, T0 + timedelta(seconds=5)) == []  # a retried head still holds the key
    assert await claim(db, T0 + timedelta(seconds=11)) == [second]
    async with db.write() as s:
        await JobRepo(s).finish(second, "w", now=T0)
    assert await claim(db) == [third]
    await db.dispose()


@pytest.mark.anyio
async def test_a_requeued_dead_job_waits_behind_the_keys_open_head(db: Database) -> None:
    first, second = await enqueue(db, "chat:a"), await enqueue(db, "chat:a")
    await claim(db)
    async with db.write() as s:
        await JobRepo(s).bury(first, "w", now=T0, error="gone")
    assert await claim(db) == [second]
    async with db.write() as s:  # the operator retries the dead one while the second runs
        assert await JobAdminRepo(s).requeue_dead([first], now=T0) == [first]
    assert await claim(db) == []  # never two jobs of one key at once
    async with db.write() as s:
        await JobRepo(s).finish(second, "w", now=T0)
    assert await claim(db) == [first]
    await db.dispose()


@pytest.mark.anyio
async def test_deleting_an_open_head_releases_the_next(db: Database) -> None:
    first, second = await enqueue(db, "chat:a"), await enqueue(db, "chat:a")
    async with db.write() as s:
        await s.execute(delete(JobRow).where(JobRow.id == first))
    assert await claim(db) == [second]
    await db.dispose()


@pytest.mark.anyio
async def test_a_job_queued_while_its_head_ends_elsewhere_is_not_left_behind(db: Database) -> None:
    """The head ends in one transaction while another queues a job of its key: whichever commits
    first, the new job must be claimable after both (on PostgreSQL the triggers' advisory lock
    makes the second wait; on SQLite BEGIN IMMEDIATE does)."""
    head = await enqueue(db, "chat:a")
    await claim(db)
    other = Database(db.url)
    try:
        async with db.write() as s:
            assert await JobRepo(s).finish(head, "w", now=T0)
            queued = asyncio.create_task(enqueue(other, "chat:a"))
            done, _ = await asyncio.wait({queued}, timeout=0.3)
            assert not done  # it waits for the ending head's transaction
        new = await asyncio.wait_for(queued, timeout=20)
        assert await claim(db) == [new]
    finally:
        await other.dispose()
        await db.dispose()


@pytest.mark.anyio
async def test_random_operations_never_run_two_jobs_of_a_key_and_never_strand_one(db: Database) -> None:
    """A random mix of enqueues, claims, ends, retries, requeues and deletions; after each step every
    key with open jobs has exactly one unheld (its head), never two running; at the end everything drains."""
    rng = random.Random(20261201)
    now = T0
    running: list[Job] = []
    for _ in range(300):
        now += timedelta(seconds=1)
        step = rng.random()
        if step < 0.35:
            await enqueue(db, rng.choice(["chat:a", "chat:b", "wh:s:m", None]), now)
        elif step < 0.55:
            async with db.write() as s:
                running += await JobRepo(s).claim("w", now=now, lease=LEASE, limit=rng.randint(1, 4))
        elif step < 0.9 and running:
            job = running.pop(rng.randrange(len(running)))
            async with db.write() as s:
                repo = JobRepo(s)
                outcome = rng.choice(["finish", "bury", "retry"])
                if outcome == "finish":
                    await repo.finish(job.id, "w", now=now)
                elif outcome == "bury":
                    await repo.bury(job.id, "w", now=now, error="x")
                else:
                    await repo.retry(job.id, "w", now=now, run_at=now + timedelta(seconds=2), error="x")
        elif step < 0.95:
            async with db.write() as s:
                await JobAdminRepo(s).requeue_dead(None, now=now)
        else:
            async with db.write() as s:
                await s.execute(delete(JobRow).where(JobRow.status == DONE))
        _assert_one_head_per_key(await rows(db))
    for job in running:  # the rest end; then everything left drains, head by head
        async with db.write() as s:
            await JobRepo(s).finish(job.id, "w", now=now)
    while True:
        now += timedelta(seconds=5)
        async with db.write() as s:
            batch = await JobRepo(s).claim("w", now=now, lease=LEASE, limit=50)
            for job in batch:
                await JobRepo(s).finish(job.id, "w", now=now)
        if not batch:
            break
        _assert_one_head_per_key(await rows(db))
    assert {status for status, _, _ in (await rows(db)).values()} <= {DONE, DEAD}
    await db.dispose()


def _assert_one_head_per_key(found: dict[int, tuple[str, bool, str | None]]) -> None:
    keys = {key for _, _, key in found.values() if key is not None}
    for key in keys:
        open_jobs = [
            (i, status, held) for i, (status, held, k) in found.items() if k == key and status in (QUEUED, RUNNING)
        ]
        if open_jobs:
            assert len([j for j in open_jobs if not j[2]]) == 1, (key, open_jobs)
            assert len([j for j in open_jobs if j[1] == RUNNING]) <= 1, (key, open_jobs)
            assert all(status == QUEUED for _, status, held in open_jobs if held), (key, open_jobs)


def test_upgrading_with_a_backlog_holds_the_jobs_behind_each_keys_first(tmp_path: Path) -> None:
    url = testdb.database_url(tmp_path, migrated=False)
    config = alembic_config(url)
    command.upgrade(config, "0007")

    async def backlog() -> None:
        db = Database(url)
        async with db.write() as s:
            for n, (status, key) in enumerate(
                [("done", "chat:a"), ("running", "chat:a"), ("queued", "chat:a"), ("queued", "chat:b"),
                 ("queued", "chat:b"), ("queued", None)], start=1
            ):  # fmt: skip
                await s.execute(
                    text(
                        "INSERT INTO jobs (id, kind, payload, status, attempts, max_attempts, run_at, order_key,"
                        " created_at, updated_at) VALUES (:id, 'k', '{}', :status, 0, 3, :t, :key, :t, :t)"
                    ),
                    {"id": n, "status": status, "key": key, "t": T0},
                )
        await db.dispose()

    asyncio.run(backlog())
    command.upgrade(config, "head")

    async def after() -> tuple[set[int], list[int]]:
        db = Database(url)
        held = {job_id for job_id, (_, is_held, _) in (await rows(db)).items() if is_held}
        taken = await claim(db)
        await db.dispose()
        return held, taken

    held, taken = asyncio.run(after())
    assert held == {3, 5}
    assert taken == [4, 6]  # chat:a's head still runs
    command.downgrade(config, "0007")  # and back, for an operator who must
    command.upgrade(config, "head")
