"""Renditions: the file each service plays, made once per (audio sha256, profile) and reused.

iMessage gets mono Opus in CAF (the bubble); SMS/RCS get the MMS rendition (≤ MMS_MAX_BYTES).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from voicememo.domain.models import Attachment, Service
from voicememo.services.context import ServiceContext
from voicememo.storage.incoming import temp_path, write_stream
from voicememo.storage.repos.delivery import RenditionRepo, StoredRendition


class Renditions:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx
        #: renders under way in this process, by (sha256, profile key)
        self._making: dict[tuple[str, str], asyncio.Future[StoredRendition]] = {}

    def profile(self, service: Service) -> tuple[str, str, dict[str, int]]:
        settings = self.ctx.settings
        if service is Service.IMESSAGE:
            options = {
                "bit_rate": settings.opus_bit_rate,
                "desc_rate": settings.caf_sample_rate,
                "threads": settings.render_threads,
            }
            return "imessage", f"imessage-opus-{settings.opus_bit_rate}-{settings.caf_sample_rate}", options
        return "mms", f"mms-{settings.mms_max_bytes}", {"mms_max_bytes": settings.mms_max_bytes}

    async def cached_in(self, s: AsyncSession, audio: Attachment, service: Service) -> StoredRendition | None:
        """The stored rendition, if any, read in the caller's transaction (the delivery's one read)."""
        assert audio.sha256 is not None
        return await RenditionRepo(s).get(audio.sha256, self.profile(service)[1])

    async def for_service(
        self, audio: Attachment, service: Service, cached: StoredRendition | None = None, *, looked_up: bool = False
    ) -> StoredRendition:
        """The stored rendition, made now if no worker made it before (raises RenditionFailed).
        ``looked_up``: the caller read ``cached`` with :meth:`cached_in` (None: there was none)."""
        profile, key, options = self.profile(service)
        assert audio.sha256 is not None
        assert audio.blob_key is not None
        if not looked_up:
            async with self.ctx.db.read() as s:
                cached = await RenditionRepo(s).get(audio.sha256, key)
        if cached is not None and await self.ctx.blobs.exists(cached.blob_key):
            return cached
        return await self._single_flight(audio, profile, key, options)

    async def _single_flight(
        self, audio: Attachment, profile: str, key: str, options: dict[str, int]
    ) -> StoredRendition:
        """One render per (audio, profile) at a time in this process: the same memo sent to many chats
        at once (a broadcast) would otherwise be rendered by every delivery running, each taking a core.
        The others wait for it; if it was cancelled (its job lost its lease) the next one renders."""
        assert audio.sha256 is not None
        flight = (audio.sha256, key)
        while (running := self._making.get(flight)) is not None:
            try:
                return await asyncio.shield(running)
            except asyncio.CancelledError:
                if not running.cancelled() or _being_cancelled():
                    raise
        made: asyncio.Future[StoredRendition] = asyncio.get_running_loop().create_future()
        made.add_done_callback(lambda f: f.cancelled() or f.exception())  # no "never retrieved" warnings
        self._making[flight] = made
        try:
            stored = await self._make(audio, profile, key, options)
        except asyncio.CancelledError:
            made.cancel()
            raise
        except BaseException as exc:
            made.set_exception(exc)
            raise
        else:
            made.set_result(stored)
            return stored
        finally:
            del self._making[flight]

    async def _make(self, audio: Attachment, profile: str, key: str, options: dict[str, int]) -> StoredRendition:
        assert audio.sha256 is not None
        assert audio.blob_key is not None
        if audio.samples and audio.sample_rate:  # measured at intake: the renderer need not decode twice
            options = {**options, "source_samples": audio.samples, "source_rate": audio.sample_rate}
        async with local_copy(self.ctx, audio.blob_key) as src, temp_path(self.ctx.settings.tmp_dir) as dst:
            made = await self.ctx.audio.render(src, dst, profile, **options)
            extension = made.filename.rsplit(".", 1)[-1]
            blob = await self.ctx.blobs.put_file(
                f"renditions/{audio.sha256}/{key}-{uuid.uuid4().hex[:8]}.{extension}", dst
            )
        stored = StoredRendition(
            str(uuid.uuid4()),
            audio.sha256,
            key,
            blob.key,
            made.mime_type,
            made.filename,
            blob.size,
            made.duration_ms,
            made.as_dict(),
        )
        async with self.ctx.db.write() as s:
            if not await RenditionRepo(s).add(stored, self.ctx.clock()):
                existing = await RenditionRepo(s).get(audio.sha256, key)
                assert existing is not None
                await self.ctx.blobs.delete(blob.key)
                return existing
        return stored


def _being_cancelled() -> bool:
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


@asynccontextmanager
async def local_copy(ctx: ServiceContext, key: str) -> AsyncIterator[Path]:
    """A filesystem path for a blob: the store's own, or a temp copy for remote stores."""
    local = ctx.blobs.local_path(key)
    if local is not None:
        yield local
        return
    async with temp_path(ctx.settings.tmp_dir) as path:
        async with await ctx.blobs.open_stream(key) as stream:
            await write_stream(stream.chunks, path, stream.length)  # chunk by chunk: memory stays flat
        yield path
