"""Shared fixtures: generated audio, settings on a temp data dir, a real server on loopback."""

from __future__ import annotations

import logging
import os
import shutil
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import structlog

sys.path.insert(0, str(Path(__file__).parent))

import s3server
import testdb
from audiogen import Made, make_corpus
from voicememo.logs import configure_logging

if TYPE_CHECKING:
    from voicememo.container import Container
    from voicememo.settings import Settings
    from voicememo.storage.db import Database

FIXTURES = Path(__file__).parent / "fixtures" / "audio"


class _Stderr:
    """Whatever ``sys.stderr`` is at the moment of writing: pytest swaps it per test to capture."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


@pytest.fixture(scope="session", autouse=True)
def product_logging() -> None:
    """The servers under test log exactly as ``voicememo serve`` does, not through structlog's default.

    structlog's default renders exceptions with rich, every frame's locals included: for a database
    error that took longer than a client waits (a request seemed to hang), and it would print secrets.
    """
    configure_logging(stream=_Stderr())  # type: ignore[arg-type]  # a TextIO in all the ways logging uses
    structlog.configure(cache_logger_on_first_use=False)  # logwatch.py swaps the processors per test
    logging.captureWarnings(False)  # pytest records warnings per test; test_logs.py checks ours


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Made]:
    return make_corpus(tmp_path_factory.mktemp("corpus"))


@pytest.fixture(scope="session")
def amr_wb_dtx() -> Path:
    return FIXTURES / "speech-dtx.awb"


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """A moto S3 server on loopback, one per test process (xdist worker)."""
    with s3server.moto_server() as endpoint:
        yield endpoint


@pytest.fixture
def s3_bucket(s3_endpoint: str) -> s3server.Bucket:
    """A fresh, empty bucket on that server."""
    return s3server.new_bucket(s3_endpoint)


@pytest.fixture
def ffprobe() -> str:
    """The ffprobe CLI for cross-checks; CI installs it and sets VOICEMEMO_REQUIRE_FFMPEG=1."""
    path = shutil.which("ffprobe")
    if path is None:
        if os.environ.get("VOICEMEMO_REQUIRE_FFMPEG"):
            pytest.fail("ffprobe is required here (install Debian's ffmpeg)")
        pytest.skip("ffprobe not installed (cross-check only; CI installs it)")
    return path


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Migrated settings on a fresh data dir; a module overrides this fixture to set its own values."""
    return testdb.migrated_settings(tmp_path / "data")


@pytest.fixture
def db(tmp_path: Path) -> Database:
    """A migrated database (SQLite, or PostgreSQL when asked) for tests of the repositories and the worker."""
    from voicememo.storage.db import Database
    from voicememo.storage.migrate import upgrade

    url = testdb.database_url(tmp_path)
    upgrade(url)
    return Database(url)


@pytest.fixture
async def container(settings: Settings) -> AsyncIterator[Container]:
    """The services on those settings, closed after the test (its engine and clients)."""
    from voicememo.container import Container  # here: the unit tests need not load the server's stack

    c = Container(settings)
    try:
        yield c
    finally:
        await c.aclose()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session", autouse=True)
def _drop_test_databases() -> Iterator[None]:
    """On PostgreSQL, the databases this process created for its data dirs go at the end."""
    yield
    testdb.drop_created()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Each run leaves out the tests of the other backend itself (deselected: they run in the other run).

    The PostgreSQL run drops ``sqlite_only`` tests; the SQLite run drops ``postgresql_only`` ones.
    """
    marker = "sqlite_only" if testdb.is_postgresql() else "postgresql_only"
    other = [item for item in items if item.get_closest_marker(marker)]
    if other:
        config.hook.pytest_deselected(items=other)
        items[:] = [item for item in items if not item.get_closest_marker(marker)]
