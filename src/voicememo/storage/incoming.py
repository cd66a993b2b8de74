"""Incoming bytes (uploads, URL fetches) are streamed to a temp file, never held in memory."""

from __future__ import annotations

import os
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio


class TooLarge(Exception):
    """More bytes arrived than allowed; the caller maps it to its own contract error."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"more than {limit} bytes")
        self.limit = limit


@asynccontextmanager
async def temp_path(tmp_dir: Path, suffix: str = "") -> AsyncIterator[Path]:
    """A fresh temp file path in ``tmp_dir`` that is removed on exit unless it was moved away."""
    path = Path(await anyio.to_thread.run_sync(_mkstemp, tmp_dir, suffix or ".part"))
    try:
        yield path
    finally:
        await anyio.Path(path).unlink(missing_ok=True)


async def write_stream(chunks: AsyncIterator[bytes], path: Path, limit: int) -> int:
    """Write ``chunks`` to ``path``; raise :class:`TooLarge` as soon as ``limit`` is passed."""
    size = 0
    async with await anyio.open_file(path, "wb") as fh:
        async for chunk in chunks:
            size += len(chunk)
            if size > limit:
                raise TooLarge(limit)
            await fh.write(chunk)
    return size


def _mkstemp(tmp_dir: Path, suffix: str) -> str:
    tmp_dir.mkdir(parents=True, exist_ok=True)
    # The pid in the name lets a sweep tell a crashed process's leftovers from a live request's file.
    fd, name = tempfile.mkstemp(dir=tmp_dir, prefix=f"{os.getpid()}-", suffix=suffix)
    os.close(fd)
    return name
