"""SQLite statements run on the event loop's own thread, behind aiosqlite's interface.

aiosqlite runs every call (execute, fetch, commit, even opening a cursor) on a thread of its own and
hands the result back through the event loop: one accepted memo cost ~54 such hand-offs, and the loop
spent most of its time waiting on them (measured: the same requests served 1.6× faster without them).
A statement of ours takes tens of microseconds in SQLite itself, less than one hand-off, so here it
runs where it is called. SQLAlchemy's aiosqlite dialect drives these objects unchanged
(``async_creator``), so the same models, queries and sessions serve SQLite and PostgreSQL.

The one thing that may not run on the loop is waiting: SQLite's busy handler sleeps inside the call.
So the connection's busy timeout is 0, and a statement that finds the database locked (another
process holds the write lock) is retried here with ``asyncio.sleep`` between tries, up to
``busy_timeout`` seconds. A statement refused as busy did nothing, so trying it again is safe.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

T = TypeVar("T")

_BUSY_CODES = frozenset({sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED})
_FIRST_PAUSE = 0.001
_LONGEST_PAUSE = 0.05


def is_busy(error: sqlite3.OperationalError) -> bool:
    code = getattr(error, "sqlite_errorcode", None)
    if code is not None:
        return (code & 0xFF) in _BUSY_CODES
    return "database is locked" in str(error)


async def retrying_busy(call: Callable[[], T], busy_timeout: float) -> T:
    """``call()``, tried again after a growing ``asyncio.sleep`` while SQLite answers busy (another
    process holds the lock), for at most ``busy_timeout`` seconds. Also used by storage/loop_session.py,
    where the busy error arrives wrapped by SQLAlchemy (its ``orig``)."""
    pause = _FIRST_PAUSE
    waited = 0.0
    while True:
        try:
            return call()
        except Exception as error:
            cause = error if isinstance(error, sqlite3.OperationalError) else getattr(error, "orig", None)
            if not isinstance(cause, sqlite3.OperationalError) or not is_busy(cause) or waited >= busy_timeout:
                raise
        await asyncio.sleep(pause)
        waited += pause
        pause = min(pause * 2, _LONGEST_PAUSE)


class InlineCursor:
    """What SQLAlchemy's adapter needs of an aiosqlite cursor."""

    def __init__(self, connection: InlineConnection, cursor: sqlite3.Cursor) -> None:
        self._owner = connection
        self._cursor = cursor

    async def __aenter__(self) -> InlineCursor:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        self._cursor.close()

    async def execute(self, sql: str, parameters: Sequence[Any] | None = None) -> InlineCursor:
        if parameters is None:
            await retrying_busy(lambda: self._cursor.execute(sql), self._owner.busy_timeout)
        else:
            await retrying_busy(lambda: self._cursor.execute(sql, parameters), self._owner.busy_timeout)
        return self

    async def executemany(self, sql: str, parameters: Iterable[Sequence[Any]]) -> InlineCursor:
        rows = list(parameters)  # an iterator could not be replayed after a busy refusal
        await retrying_busy(lambda: self._cursor.executemany(sql, rows), self._owner.busy_timeout)
        return self

    async def fetchone(self) -> Any:
        return self._cursor.fetchone()

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        return self._cursor.fetchmany(size if size is not None else self._cursor.arraysize)

    async def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()

    async def close(self) -> None:
        self._cursor.close()

    async def nextset(self) -> None:
        return None

    async def setinputsizes(self, *_sizes: Any) -> None:
        return None

    def setoutputsize(self, *_args: Any) -> None:
        return None

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    @property
    def arraysize(self) -> int:
        return self._cursor.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cursor.arraysize = value


class InlineConnection:
    """What SQLAlchemy's aiosqlite adapter needs of an ``aiosqlite.Connection``."""

    def __init__(self, connection: sqlite3.Connection, busy_timeout: float) -> None:
        #: the adapter tests this attribute before commit and rollback (None once closed)
        self._connection: sqlite3.Connection | None = connection
        self.busy_timeout = busy_timeout

    def _open(self) -> sqlite3.Connection:
        if self._connection is None:
            raise sqlite3.OperationalError("no active connection")
        return self._connection

    def cursor(self) -> InlineCursor:
        return InlineCursor(self, self._open().cursor())

    async def execute(self, sql: str, parameters: Sequence[Any] | None = None) -> InlineCursor:
        return await self.cursor().execute(sql, parameters)

    async def commit(self) -> None:
        connection = self._open()
        await retrying_busy(connection.commit, self.busy_timeout)

    async def rollback(self) -> None:
        self._open().rollback()

    async def close(self) -> None:
        self.stop()

    def stop(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    async def create_function(self, *args: Any, **kwargs: Any) -> None:
        self._open().create_function(*args, **kwargs)

    @property
    def isolation_level(self) -> str | None:
        return self._open().isolation_level

    @property
    def in_transaction(self) -> bool:
        return self._open().in_transaction


async def connect(path: str, *, busy_timeout: float) -> InlineConnection:
    """Open ``path`` with the driver's own transaction handling off (our BEGIN is the one issued)."""
    connection = sqlite3.connect(path, timeout=0, isolation_level=None, check_same_thread=False)
    return InlineConnection(connection, busy_timeout)
