"""Wake-ups across processes on PostgreSQL: NOTIFY in the enqueueing transaction, LISTEN in every worker.

``pg_notify`` issued inside a transaction is delivered when it commits and never when it rolls back,
so a worker is rung only for jobs that exist. The listener holds one dedicated asyncpg connection
(outside the pool: a LISTEN belongs to its session) and calls ``on_notice`` with the job's kind for each
notification.
When the connection drops it reconnects with growing pauses; polling (``job_poll_interval``) covers
the gap, and every (re)connect calls ``on_notice("")`` once for whatever was enqueued while nobody listened.
SQLite has no such thing: there the in-process doorbell and polling are all there is.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

import asyncpg
import structlog
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import AsyncSession

log = structlog.get_logger("voicememo.notify")

CHANNEL = "voicememo_jobs"


def listens(database_url: str) -> bool:
    """True for a database whose enqueues notify (PostgreSQL)."""
    return make_url(database_url).get_backend_name() == "postgresql"


async def notify_enqueued(session: AsyncSession, kind: str) -> None:
    """In the caller's transaction: tell every listening worker, at commit, that a ``kind`` job was queued.

    PostgreSQL folds identical notifications of one transaction into one, so a burst costs one delivery.
    """
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text("SELECT pg_notify(:channel, :kind)"), {"channel": CHANNEL, "kind": kind})


def asyncpg_dsn(database_url: str) -> str:
    """The libpq-style DSN asyncpg takes, from SQLAlchemy's ``postgresql+asyncpg://`` URL."""
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


class JobListener:
    """LISTEN on the jobs channel until ``stop``; ``connected`` is set while the LISTEN is in place."""

    def __init__(
        self,
        database_url: str,
        on_notice: Callable[[str], None],
        *,
        first_pause: float = 0.1,
        longest_pause: float = 10.0,
        connect_timeout: float = 10.0,
        check_interval: float = 30.0,
    ) -> None:
        self._dsn = asyncpg_dsn(database_url)
        self._on_notice = on_notice
        self._first_pause = first_pause
        self._longest_pause = longest_pause
        self._connect_timeout = connect_timeout
        self._check_interval = check_interval
        self.connected = asyncio.Event()

    async def run(self, stop: asyncio.Event) -> None:
        pause = self._first_pause
        while not stop.is_set():
            try:
                conn = await asyncpg.connect(self._dsn, timeout=self._connect_timeout)
            except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
                log.warning("listen_failed", action="retrying", error=repr(exc), retry_in=pause)
            else:
                pause = self._first_pause
                await self._listen(conn, stop)
                if stop.is_set():
                    return
                log.warning("listen_lost", action="retrying", retry_in=pause)
            await _wait(stop, pause)
            pause = min(pause * 2, self._longest_pause)

    async def _listen(self, conn: asyncpg.Connection, stop: asyncio.Event) -> None:
        lost = asyncio.Event()
        conn.add_termination_listener(lambda _conn: lost.set())

        def notice(_conn: Any, _pid: int, _channel: str, payload: str) -> None:
            self._on_notice(payload)

        try:
            await conn.add_listener(CHANNEL, notice)
            self.connected.set()
            log.info("listening", action="started", channel=CHANNEL)
            self._on_notice("")  # what was enqueued while nobody listened
            while not stop.is_set() and not lost.is_set():
                await _first_of(stop, lost, seconds=self._check_interval)
                if not (stop.is_set() or lost.is_set()):
                    # a connection cut without a FIN is noticed only by using it
                    await asyncio.wait_for(conn.fetchval("SELECT 1"), timeout=self._connect_timeout)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as exc:
            log.warning("listen_failed", action="error", error=repr(exc))
        finally:
            self.connected.clear()
            with contextlib.suppress(Exception):  # closing a dead connection may fail: it is gone either way
                await asyncio.wait_for(conn.close(), timeout=2)


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            await stop.wait()


async def _first_of(*events: asyncio.Event, seconds: float) -> None:
    waiters = [asyncio.create_task(e.wait()) for e in events]
    try:
        await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
