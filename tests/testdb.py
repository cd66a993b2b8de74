"""The database a test's server uses: SQLite in its data dir, or a fresh PostgreSQL database.

``VOICEMEMO_TEST_DATABASE=postgresql`` runs the suite against the local PostgreSQL server
(``VOICEMEMO_TEST_POSTGRES``, default ``postgresql+asyncpg://postgres@127.0.0.1:5432``): every data
dir gets its own database, named from the dir's path, so every server, CLI run and subprocess that
shares a data dir shares its database and nothing else does (xdist workers have their own temp
dirs). ``drop_created()`` drops this process's databases at the end of the session (a run that is
killed leaves its ``vm_test_*`` databases behind; they are not swept automatically because another
run on the same server may be using its own).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import secrets
import threading
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import asyncpg

from voicememo.settings import Settings
from voicememo.storage.migrate import upgrade

PREFIX = "vm_test_"
_created: set[str] = set()
_template_name: str | None = None


def backend() -> str:
    return os.environ.get("VOICEMEMO_TEST_DATABASE", "sqlite")


def is_postgresql() -> bool:
    return backend() == "postgresql"


def _server() -> str:
    return os.environ.get("VOICEMEMO_TEST_POSTGRES", "postgresql+asyncpg://postgres@127.0.0.1:5432").rstrip("/")


def database_url(data_dir: Path, *, migrated: bool = True) -> str:
    """The URL for this data dir (created on first use on PostgreSQL).

    A PostgreSQL database starts as a copy of one migrated once per test process (running the
    migrations takes seconds there, a copy a fraction of one); ``migrated=False`` starts empty.
    """
    if not is_postgresql():
        return f"sqlite+aiosqlite:///{(data_dir / 'voicememo.db').resolve()}"
    name = PREFIX + hashlib.sha256(str(data_dir.resolve()).encode()).hexdigest()[:24]
    if name not in _created:
        _admin(_create(name, _template() if migrated else None))
        _created.add(name)
    return f"{_server()}/{name}"


def migrated_settings(data_dir: Path, **overrides: Any) -> Settings:
    """Settings on this data dir, its folders made and its database migrated: what a test's server starts from.

    Migrations run their own event loop, so call this outside the test's.
    """
    settings = Settings(data_dir=data_dir, database_url=database_url(data_dir), **overrides)
    settings.ensure_dirs()
    upgrade(settings.database_url)
    return settings


def _template() -> str:
    global _template_name
    if _template_name is None:
        name = f"{PREFIX}template_{os.getpid()}_{secrets.token_hex(4)}"
        _admin(_create(name, None))
        _created.add(name)
        # migrations run their own event loop: on a thread, as callers may be inside one
        _in_thread(lambda: upgrade(f"{_server()}/{name}"))
        _template_name = name
    return _template_name


def database_env(data_dir: Path) -> dict[str, str]:
    """Environment for a subprocess using this data dir (nothing extra on SQLite: the dir decides)."""
    return {"VOICEMEMO_DATABASE_URL": database_url(data_dir)} if is_postgresql() else {}


def stored_bytes(data_dir: Path) -> bytes:
    """Everything the data dir's database holds: SQLite's files as bytes, or every PostgreSQL row as text."""
    if not is_postgresql():
        return b"".join(p.read_bytes() for p in sorted(data_dir.glob("voicememo.db*")))
    url = database_url(data_dir).replace("+asyncpg", "")
    rows: list[str] = []

    async def go() -> None:
        conn = await asyncpg.connect(url)
        try:
            tables = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
            for (table,) in tables:
                query = f'SELECT t::text FROM "{table}" t'  # noqa: S608 - names from pg_tables, not input
                rows.extend(r[0] for r in await conn.fetch(query))
        finally:
            await conn.close()

    _admin(go())
    return "\n".join(rows).encode()


def drop_created() -> None:
    global _template_name
    if _created:
        _admin(_drop(sorted(_created)))
        _created.clear()
    _template_name = None


async def _connect() -> asyncpg.Connection:
    return await asyncpg.connect(_server().replace("+asyncpg", "") + "/postgres")


async def _create(name: str, template: str | None) -> None:
    conn = await _connect()
    try:
        await conn.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
    except asyncpg.DuplicateDatabaseError:
        pass  # this data dir's database already exists (a subprocess or another fixture made it)
    finally:
        await conn.close()


async def _drop(names: list[str]) -> None:
    conn = await _connect()
    try:
        for name in names:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


def _admin(work: Coroutine[Any, Any, None]) -> None:
    """Run on a loop of its own: callers may be sync code or inside a running event loop."""
    _in_thread(lambda: asyncio.run(work))


def _in_thread(call: Callable[[], object]) -> None:
    errors: list[BaseException] = []

    def run() -> None:
        try:
            call()
        except BaseException as exc:  # re-raised in the caller's thread
            errors.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    if errors:
        raise errors[0]
