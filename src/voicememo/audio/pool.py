"""Audio checks run in a process pool so decoding never blocks the event loop.

Concurrency is bounded by a semaphore the size of the pool: a burst of uploads queues
here (cheaply, as coroutines) rather than piling work onto the worker processes.
"""

from __future__ import annotations

import asyncio
import functools
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from voicememo.audio.probe import AudioInfo, probe_file
from voicememo.audio.render import Rendition, render
from voicememo.errors import InternalError


class AudioPool:
    def __init__(self, workers: int, time_limit: float) -> None:
        self.workers = workers
        self.time_limit = time_limit
        self._executor: ProcessPoolExecutor | None = None
        self._slots = asyncio.Semaphore(workers)

    def _pool(self) -> ProcessPoolExecutor:
        if self._executor is None:
            # forkserver: workers never inherit the server's threads, sockets or event loop
            context = multiprocessing.get_context("forkserver")
            self._executor = ProcessPoolExecutor(max_workers=self.workers, mp_context=context)
        return self._executor

    async def probe(self, path: Path) -> AudioInfo:
        async with self._slots:
            loop = asyncio.get_running_loop()
            try:
                return await loop.run_in_executor(self._pool(), probe_file, str(path), self.time_limit)
            except BrokenProcessPool as exc:
                self._executor = None
                raise InternalError("The audio checker crashed on this file; please try again.") from exc

    async def render(self, src: Path, dst: Path, profile: str, **options: int) -> Rendition:
        """Make and verify a rendition in a worker process (raises RenditionFailed with the reason)."""
        async with self._slots:
            loop = asyncio.get_running_loop()
            call = functools.partial(render, str(src), str(dst), profile, **options)
            try:
                return await loop.run_in_executor(self._pool(), call)
            except BrokenProcessPool as exc:
                self._executor = None
                raise InternalError("The audio worker crashed while rendering; the send will be retried.") from exc

    async def warm(self) -> None:
        """Start the worker processes now (imports included), not on the first user's upload."""
        loop = asyncio.get_running_loop()
        await asyncio.gather(*(loop.run_in_executor(self._pool(), _ready) for _ in range(self.workers)))

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None


def _ready() -> bool:
    return True
