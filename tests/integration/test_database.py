"""The database: migrations match the models (on either backend); two processes write to SQLite without
'database is locked'."""

from __future__ import annotations

import asyncio
import multiprocessing
import sqlite3
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text

import testdb
from voicememo.storage.db import Database
from voicememo.storage.migrate import upgrade
from voicememo.storage.tables import Base


def _url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


def test_migrations_build_exactly_the_models(tmp_path: Path) -> None:
    url = testdb.database_url(tmp_path, migrated=False)
    upgrade(url)
    upgrade(url)  # running again is a no-op

    async def diff() -> list[object]:
        db = Database(url)
        async with db.engine.connect() as conn:
            changes = await conn.run_sync(lambda c: compare_metadata(MigrationContext.configure(c), Base.metadata))
        await db.dispose()
        return list(changes)

    assert asyncio.run(diff()) == []


def _increment_many(url: str, times: int) -> int:
    """Read-then-write transactions: the pattern that deadlocks with SQLite's deferred BEGIN."""

    async def run() -> int:
        db = Database(url)
        done = 0
        for _ in range(times):
            async with db.write() as s:
                value = (await s.execute(text("SELECT n FROM counter"))).scalar_one()
                await s.execute(text("UPDATE counter SET n = :n"), {"n": value + 1})
            done += 1
        await db.dispose()
        return done

    return asyncio.run(run())


# SQLite only: it tests SQLite's BEGIN IMMEDIATE and WAL mode. On PostgreSQL (READ COMMITTED) an
# unlocked read-then-write loses updates by design; the code's check-then-write spots lock instead.
@pytest.mark.sqlite_only
def test_two_processes_read_then_write_without_lock_errors(tmp_path: Path) -> None:
    url = _url(tmp_path / "c.db")

    async def setup() -> None:
        db = Database(url)
        async with db.write() as s:
            await s.execute(text("CREATE TABLE counter (n INTEGER NOT NULL)"))
            await s.execute(text("INSERT INTO counter VALUES (0)"))
        await db.dispose()

    asyncio.run(setup())
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
        results = list(pool.map(_increment_many, [url, url], [300, 300]))
    assert results == [300, 300]

    async def final() -> int:
        db = Database(url)
        async with db.read() as s:
            value = int((await s.execute(text("SELECT n FROM counter"))).scalar_one())
            mode = (await s.execute(text("PRAGMA journal_mode"))).scalar_one()
        await db.dispose()
        assert mode == "wal"
        return value

    assert asyncio.run(final()) == 600  # no lost update either


@pytest.mark.sqlite_only
def test_a_write_waiting_for_another_process_leaves_the_event_loop_running(tmp_path: Path) -> None:
    """SQLite statements run on the event loop (storage/sqlite_inline.py): waiting for a lock held
    elsewhere must be an ``asyncio.sleep``, never SQLite's busy handler. Here the lock is released only
    by a task on the same loop, so a blocked loop could never finish the write."""
    path = tmp_path / "c.db"
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("PRAGMA journal_mode=WAL")
    other.execute("CREATE TABLE counter (n INTEGER NOT NULL)")
    other.execute("BEGIN IMMEDIATE")  # another process holds the write lock

    async def run() -> int:
        db = Database(_url(path))
        ticks = 0

        async def release_after_ticks() -> None:
            nonlocal ticks
            while ticks < 5:
                ticks += 1
                await asyncio.sleep(0.01)
            other.execute("COMMIT")

        releaser = asyncio.create_task(release_after_ticks())
        async with db.write() as s:
            await s.execute(text("INSERT INTO counter VALUES (1)"))
        await releaser
        await db.dispose()
        return ticks

    assert asyncio.run(run()) == 5
    assert other.execute("SELECT n FROM counter").fetchall() == [(1,)]
    other.close()
