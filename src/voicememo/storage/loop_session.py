"""SQLite units of work run by SQLAlchemy's sync ORM on the event loop: no greenlet per call.

The statements already run on the loop's thread (storage/sqlite_inline.py says why); the async
session still ran each call in a greenlet and adapted the driver's coroutines back, and on SQLite
that machinery cost more than the statements (measured: 66 against 32 µs per statement, ~290
against ~130 µs per one-statement transaction). :class:`LoopSession` offers the part of
``AsyncSession``'s interface the repositories use, over a sync ``Session`` on a plain ``sqlite3``
connection. Nothing may wait inside SQLite on the loop, so the busy timeout is 0 and a statement
refused as busy (another process holds the lock) did nothing and is tried again after an
``asyncio.sleep``, as the inline driver does; the write lock is taken by ``BEGIN IMMEDIATE`` first.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from sqlalchemy import Engine, event
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session
from sqlalchemy.pool import QueuePool

from voicememo.storage.sqlite_inline import retrying_busy

T = TypeVar("T")


def sync_engine(path: str) -> Engine:
    """Connections never wait in the pool either (a sync wait would stop the loop): unbounded overflow."""
    engine = create_sync_engine(f"sqlite+pysqlite:///{path}", poolclass=QueuePool, pool_size=8, max_overflow=-1)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # our BEGIN is the one issued
        for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON", "busy_timeout=0"):
            dbapi_connection.execute(f"PRAGMA {pragma}")

    return engine


def _orm(statement: Any) -> bool:
    """Whether ``statement`` names mapped classes (so the ORM must run it), not only tables."""
    attrs: dict[str, Any] = getattr(statement, "_propagate_attrs", None) or {}
    return attrs.get("compile_state_plugin") == "orm"


class LoopSession:
    """What the repositories call on a session, run synchronously (see the module's docstring).

    Core statements (tables, not mapped classes: nearly every statement on the hot paths) run on the
    unit's connection directly; the ORM session's execute cost ~15 µs more per statement for the same
    work. The session itself is made on first use, so a unit of work without ORM calls never pays
    for one. Both share the one connection and its transaction, and autoflush is off, so the
    order of effects is the same either way."""

    def __init__(self, conn: Connection, busy_timeout: float) -> None:
        self._conn = conn
        self._session: Session | None = None
        self._busy_timeout = busy_timeout
        self.info: dict[Any, Any] = {}

    @property
    def sync_session(self) -> Session:
        if self._session is None:
            self._session = Session(bind=self._conn, expire_on_commit=False, autoflush=False)
        return self._session

    def add(self, instance: object) -> None:
        self.sync_session.add(instance)

    def get_bind(self) -> Any:
        return self._conn

    def _runner(self, statement: Any, kw: dict[str, Any]) -> Session | Connection:
        """The ORM session for mapped classes (or ORM options), the unit's connection otherwise."""
        return self.sync_session if kw or _orm(statement) else self._conn

    async def execute(self, statement: Any, params: Any = None, **kw: Any) -> Any:
        runner = self._runner(statement, kw)
        return await self._run(lambda: runner.execute(statement, params, **kw))

    async def scalar(self, statement: Any, params: Any = None, **kw: Any) -> Any:
        runner = self._runner(statement, kw)
        return await self._run(lambda: runner.scalar(statement, params, **kw))

    async def scalars(self, statement: Any, params: Any = None, **kw: Any) -> Any:
        runner = self._runner(statement, kw)
        return await self._run(lambda: runner.scalars(statement, params, **kw))

    async def get(self, entity: Any, ident: Any, **kw: Any) -> Any:
        return await self._run(lambda: self.sync_session.get(entity, ident, **kw))

    async def flush(self) -> None:
        if self._session is not None:
            await self._run(self._session.flush)

    async def delete(self, instance: object) -> None:
        self.sync_session.delete(instance)

    async def connection(self, **kw: Any) -> Connection:
        return self.sync_session.connection(**kw)

    async def rollback(self) -> None:
        self.sync_session.rollback()

    @asynccontextmanager
    async def begin_nested(self) -> AsyncIterator[None]:
        with self.sync_session.begin_nested():
            yield

    def close(self) -> None:
        if self._session is not None:
            self._session.close()

    async def _run(self, call: Callable[[], T]) -> T:
        return await retrying_busy(call, self._busy_timeout)


@asynccontextmanager
async def unit_of_work(engine: Engine, *, write: bool, busy_timeout: float) -> AsyncIterator[LoopSession]:
    """A transaction on its own connection: ``BEGIN IMMEDIATE`` (retried while another process holds
    the write lock) and a commit on success, or a deferred ``BEGIN`` and a rollback for a read."""
    conn = engine.connect()
    try:
        await retrying_busy(lambda: conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN"), busy_timeout)
        unit = LoopSession(conn, busy_timeout)
        try:
            yield unit
            if write:
                await unit.flush()
                conn.commit()
        finally:
            unit.close()
    finally:
        conn.close()  # rolls back whatever was not committed
