"""The application database: one async engine, transactions as context managers.

SQLite runs in WAL mode and every write transaction starts with ``BEGIN IMMEDIATE``:
with SQLite's default deferred BEGIN, two processes that read and then write fail
with "database is locked" instead of waiting for each other (measured: 1,441 of
1,600 such transactions). Read-only units of work use a deferred BEGIN so readers
never queue behind writers. Statements run on the event loop's own thread rather than aiosqlite's
(storage/sqlite_inline.py: the hand-offs cost more than the statements), through SQLAlchemy's sync
ORM rather than its greenlet-based async one (storage/loop_session.py: that machinery cost more
than the statements too); a lock held by another process is waited for with ``asyncio.sleep``, so
SQLite's own busy timeout is 0.

PostgreSQL (``postgresql+asyncpg://``) runs the same models, queries and migrations with none of
that: its transactions are READ COMMITTED, writers lock rows rather than the database, and the
places that check and then write take row or advisory locks of their own (storage/repos/jobs.py).
Its connections come from a bounded pool (``PoolConfig``); SQLite's come from SQLAlchemy's default.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Engine, event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from voicememo.storage import loop_session, sqlite_inline

_READ_ONLY = "voicememo_read_only"
#: how long a statement waits for another process's write lock before "database is locked"
_BUSY_TIMEOUT_SECONDS = 30.0


@dataclass(frozen=True, slots=True)
class PoolConfig:
    """Connections per process to a server database (ignored for SQLite)."""

    size: int = 10
    max_overflow: int = 10
    timeout: float = 30.0
    #: connections older than this are replaced (a server or proxy may drop idle ones)
    recycle: float = 1800.0


def is_sqlite(database_url: str) -> bool:
    return database_url.startswith("sqlite")


def create_engine(
    database_url: str, *, echo: bool = False, pool: PoolConfig | None = None, sqlite_inline_calls: bool = True
) -> AsyncEngine:
    """``sqlite_inline_calls``: SQLite statements run on the event loop (storage/sqlite_inline.py), not
    on aiosqlite's thread."""
    if is_sqlite(database_url):
        if sqlite_inline_calls:
            path = make_url(database_url).database or ":memory:"

            async def connect() -> Any:
                return await sqlite_inline.connect(path, busy_timeout=_BUSY_TIMEOUT_SECONDS)

            engine = create_async_engine(database_url, echo=echo, async_creator=connect)
        else:
            engine = create_async_engine(database_url, echo=echo, connect_args={"timeout": _BUSY_TIMEOUT_SECONDS})
        _configure_sqlite(engine)
        return engine
    pool = pool or PoolConfig()
    return create_async_engine(
        database_url,
        echo=echo,
        pool_pre_ping=True,
        pool_size=pool.size,
        max_overflow=pool.max_overflow,
        pool_timeout=pool.timeout,
        pool_recycle=pool.recycle,
    )


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from the driver so that our BEGIN is the one issued (the
        # inline driver opens its connections that way already).
        if dbapi_connection.isolation_level is not None:
            dbapi_connection.isolation_level = None
        inline = isinstance(dbapi_connection.driver_connection, sqlite_inline.InlineConnection)
        # Inline, SQLite must not sleep in its busy handler: that would stop the event loop.
        busy_ms = 0 if inline else int(_BUSY_TIMEOUT_SECONDS * 1000)
        cursor = dbapi_connection.cursor()
        for pragma in (
            "PRAGMA journal_mode=WAL",
            "PRAGMA synchronous=NORMAL",
            "PRAGMA foreign_keys=ON",
            f"PRAGMA busy_timeout={busy_ms}",
        ):
            cursor.execute(pragma)
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        read_only = conn.get_execution_options().get(_READ_ONLY, False)
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


class Database:
    """Owns the engine; hands out sessions that commit on success and roll back on error."""

    def __init__(self, database_url: str, *, pool: PoolConfig | None = None, sqlite_inline_calls: bool = True) -> None:
        self.url = database_url
        self.engine = create_engine(database_url, pool=pool, sqlite_inline_calls=sqlite_inline_calls)
        self._sessions = async_sessionmaker(self.engine, expire_on_commit=False, autoflush=False)
        self._write_lock = asyncio.Lock() if is_sqlite(database_url) else None
        #: SQLite on the loop: units of work through the sync ORM (storage/loop_session.py)
        self._loop_engine = (
            loop_session.sync_engine(make_url(database_url).database or ":memory:")
            if is_sqlite(database_url) and sqlite_inline_calls
            else None
        )

    @property
    def statement_engine(self) -> Engine:
        """The engine whose connections run the statements (for statement counting)."""
        return self._loop_engine or self.engine.sync_engine

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncSession]:
        """A read-write transaction (IMMEDIATE on SQLite: the write lock is taken up front).

        On SQLite, writers of this process queue on an asyncio lock first: waiting inside SQLite's
        busy handler means sleeping in growing steps (up to 100 ms), which is what made p99 accept
        latency seconds long under load. Other processes still wait on the busy timeout.
        """
        if self._write_lock is None:
            async with self._sessions() as session, session.begin():
                yield session
            return
        if self._loop_engine is not None:
            async with (
                self._write_lock,
                loop_session.unit_of_work(self._loop_engine, write=True, busy_timeout=_BUSY_TIMEOUT_SECONDS) as unit,
            ):
                yield cast(AsyncSession, unit)  # the part of AsyncSession's interface the repositories use
            return
        async with self._write_lock, self._sessions() as session, session.begin():
            yield session

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A read-only transaction."""
        if self._loop_engine is not None:
            async with loop_session.unit_of_work(
                self._loop_engine, write=False, busy_timeout=_BUSY_TIMEOUT_SECONDS
            ) as unit:
                yield cast(AsyncSession, unit)
            return
        async with self._sessions() as session:
            await session.connection(execution_options={_READ_ONLY: True})
            try:
                yield session
            finally:
                await session.rollback()

    async def ping(self) -> None:
        async with self.read() as session:
            await session.connection()

    async def dispose(self) -> None:
        await self.engine.dispose()
        if self._loop_engine is not None:
            self._loop_engine.dispose()
