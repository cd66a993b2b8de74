"""Wake-ups across processes on PostgreSQL: an enqueue in one process rings the idle workers of another.

Each "process" here is its own Database (engine, pool) and Wakeup, as two OS processes would have;
the workers poll once an hour, so only a notification can wake them within the test's bound.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest

import testdb
from voicememo.jobs.retry import RetryPolicy
from voicememo.jobs.worker import Wakeup, Worker
from voicememo.storage.db import Database
from voicememo.storage.notify import JobListener, asyncpg_dsn
from voicememo.storage.repos.jobs import Job, JobRepo

pytestmark = [pytest.mark.postgresql_only, pytest.mark.anyio]
BOUND = 10.0  # seconds: a failure, not a measurement (polling would take an hour)


def now() -> datetime:
    return datetime.now(UTC)


class Recorder:
    def __init__(self) -> None:
        self.policy = RetryPolicy()
        self.claimed = asyncio.Event()
        self.at = 0.0

    async def run(self, job: Job) -> None:
        self.at = time.perf_counter()
        self.claimed.set()

    async def give_up(self, job: Job, reason: str) -> None:
        raise AssertionError(reason)


class Notices:
    """What a listener heard, in order; ``heard(kind)`` waits for one."""

    def __init__(self) -> None:
        self.kinds: list[str] = []
        self._changed = asyncio.Event()

    def __call__(self, kind: str) -> None:
        self.kinds.append(kind)
        self._changed.set()

    async def heard(self, kind: str, times: int = 1) -> None:
        async with asyncio.timeout(BOUND):
            while self.kinds.count(kind) < times:
                self._changed.clear()
                await self._changed.wait()


async def enqueue(db: Database, kind: str) -> None:
    async with db.write() as s:
        await JobRepo(s).enqueue(kind, {}, now=now(), max_attempts=3)


async def enqueue_then_fail(db: Database) -> None:
    async with db.write() as s:
        await JobRepo(s).enqueue("rolled-back", {}, now=now(), max_attempts=3)
        raise RuntimeError("the caller's transaction fails after the enqueue")


async def test_an_enqueue_in_another_process_wakes_an_idle_worker(tmp_path: Path) -> None:
    url = testdb.database_url(tmp_path)
    here, there = Database(url), Database(url)
    handler = Recorder()
    worker = Worker(here, {"memo": handler}, clock=now, wakeup=Wakeup(), poll_interval=3600)
    assert worker.listener is not None
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    try:
        await asyncio.wait_for(worker.listener.connected.wait(), BOUND)
        await enqueue(there, "memo")  # the other process rings no doorbell of ours
        committed = time.perf_counter()
        await asyncio.wait_for(handler.claimed.wait(), BOUND)
        print(f"cross-process wake-up: enqueue commit -> handler start {1000 * (handler.at - committed):.1f} ms")
    finally:
        stop.set()
        await asyncio.wait_for(task, BOUND)
        await here.dispose()
        await there.dispose()
    assert not worker.listener.connected.is_set()  # the LISTEN connection is closed on shutdown


async def test_a_rolled_back_enqueue_notifies_nobody(tmp_path: Path) -> None:
    url = testdb.database_url(tmp_path)
    db = Database(url)
    notices = Notices()
    listener = JobListener(url, notices)
    stop = asyncio.Event()
    task = asyncio.create_task(listener.run(stop))
    try:
        await notices.heard("")  # listening
        with pytest.raises(RuntimeError):
            await enqueue_then_fail(db)
        await enqueue(db, "committed")  # notifications arrive in commit order: this one comes after any other
        await notices.heard("committed")
        assert [k for k in notices.kinds if k] == ["committed"]
    finally:
        stop.set()
        await asyncio.wait_for(task, BOUND)
        await db.dispose()


async def test_the_listener_reconnects_after_its_connection_is_killed(tmp_path: Path) -> None:
    url = testdb.database_url(tmp_path)
    db = Database(url)
    notices = Notices()
    listener = JobListener(url, notices, first_pause=0.01)
    stop = asyncio.Event()
    task = asyncio.create_task(listener.run(stop))
    admin = await asyncpg.connect(asyncpg_dsn(url))
    try:
        await notices.heard("")
        killed = await admin.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = current_database() AND query LIKE 'LISTEN%'"
        )
        assert killed == 1
        await notices.heard("", times=2)  # connected again (and rang once for what it may have missed)
        await enqueue(db, "after")
        await notices.heard("after")
    finally:
        stop.set()
        await asyncio.wait_for(task, BOUND)
        await admin.close()
        await db.dispose()
