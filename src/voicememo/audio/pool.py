"""Audio checks run in a process pool so decoding never blocks the event loop.

Concurrency is bounded by a semaphore the size of the pool: a burst of uploads queues
here (cheaply, as coroutines) rather than piling work onto the worker processes.

A worker holds the audio code and nothing else of the server: it forks from a forkserver
that has loaded only ``voicememo.audio.render``. Measured under `voicememo serve` after a
render (benchmarks/pool_memory.py): 114–119 MB RSS per worker when the workers imported
the whole app through the console script, 39–43 MB with the audio code alone.
"""

from __future__ import annotations

import asyncio
import functools
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from voicememo.audio.ogg import OggPreview, make_preview
from voicememo.audio.probe import AudioInfo, probe_file
from voicememo.audio.render import Rendition, render
from voicememo.errors import InternalError

_AUDIO_MODULE = "voicememo.audio.ogg"  # imports the renderer and the probe too: everything a worker runs


class AudioPool:
    def __init__(self, workers: int, time_limit: float) -> None:
        self.workers = workers
        self.time_limit = time_limit
        self._executor: ProcessPoolExecutor | None = None
        self._slots = asyncio.Semaphore(workers)

    def _pool(self) -> ProcessPoolExecutor:
        if self._executor is None:
            self._executor = start_workers(self.workers)
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

    async def preview(self, src: Path, dst: Path, source: str, **options: int) -> OggPreview:
        """Make an Ogg/Opus browser preview in a worker process (raises RenditionFailed with the reason)."""
        async with self._slots:
            loop = asyncio.get_running_loop()
            call = functools.partial(make_preview, str(src), str(dst), source, **options)
            try:
                return await loop.run_in_executor(self._pool(), call)
            except BrokenProcessPool as exc:
                self._executor = None
                raise InternalError("The audio worker crashed while making the preview; please try again.") from exc

    async def warm(self) -> None:
        """Start the worker processes now (imports included), not on the first user's upload."""
        loop = asyncio.get_running_loop()
        await asyncio.gather(*(loop.run_in_executor(self._pool(), _ready) for _ in range(self.workers)))

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None


def start_workers(workers: int) -> ProcessPoolExecutor:
    """Worker processes that load the audio code and nothing else.

    forkserver: workers never inherit the server's threads, sockets or event loop. The
    forkserver preloads the audio modules (once; every worker forks with them loaded) and
    not the main module. Each worker still runs the main module as ``__mp_main__``, which is
    why the console script's module (cli/main.py) imports nothing.
    """
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([_AUDIO_MODULE])
    return ProcessPoolExecutor(max_workers=workers, mp_context=context)


def _ready() -> bool:
    return True
