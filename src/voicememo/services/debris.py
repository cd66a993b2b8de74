"""What a crash can leave behind, found and cleaned: at start-up, periodically, and by `voicememo doctor`.

A SIGKILL can interrupt a request or a job between any two steps. What it can leave:

- temp files of a download or upload (``tmp/<pid>-*.part``);
- a blob being written (``.<name>.<pid>.partial``) or the sandbox outbox's staging folder
  (``outbox/.<send id>.<pid>.<hex>``);
- a blob stored just before the row that would own it was committed (no row refers to it);
- a pre-upload whose upload never finished, ``pending`` after its URL expired (with presigned
  uploads, one whose bytes reached the bucket is checked and completed instead).

Files carry the pid of their writer: a file whose process is gone is debris at once; any other
is debris only once it is older than ``DEBRIS_GRACE_SECONDS`` (a live request never takes that
long). Blobs with no owner and expired pre-uploads also wait out that grace.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import anyio
import structlog

from voicememo.domain.models import AttachmentStatus
from voicememo.processes import pid_alive
from voicememo.services.attachments import INCOMING, settle_presigned
from voicememo.services.context import ServiceContext
from voicememo.storage.repos.attachments import AttachmentRepo, AttachmentSweepRepo

SWEEP_JOB = "debris_sweep"  # run by services/periodic.py
EXPIRED_UPLOAD = "The upload URL expired before the whole file arrived; create a new attachment and upload again."
_TEMP = re.compile(r"^(\d+)-.*\.part$")
_BLOB_PARTIAL = re.compile(r"^\..*\.(\d+)\.partial$")
_OUTBOX_STAGING = re.compile(r"^\..*\.(\d+)\.[0-9a-f]{32}$")
log = structlog.get_logger(__name__)


@dataclass
class Debris:
    temp_files: list[str] = field(default_factory=list)
    partial_writes: list[str] = field(default_factory=list)
    orphan_blobs: list[str] = field(default_factory=list)
    expired_uploads: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.temp_files) + len(self.partial_writes) + len(self.orphan_blobs) + len(self.expired_uploads)

    def counts(self) -> dict[str, int]:
        return {
            "temp_files": len(self.temp_files),
            "partial_writes": len(self.partial_writes),
            "orphan_blobs": len(self.orphan_blobs),
            "expired_uploads": len(self.expired_uploads),
        }


class DebrisService:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    async def find(self) -> Debris:
        settings = self.ctx.settings
        grace = settings.debris_grace_seconds
        cutoff = time.time() - grace
        debris = Debris()
        scan = anyio.to_thread.run_sync
        debris.temp_files = await scan(_leftovers, settings.tmp_dir, _TEMP, cutoff, False)
        debris.partial_writes = await scan(_leftovers, settings.blob_dir, _BLOB_PARTIAL, cutoff, True)
        debris.partial_writes += await scan(_leftovers, settings.outbox_dir, _OUTBOX_STAGING, cutoff, False)
        stored = await self.ctx.blobs.keys_stored_before(cutoff)
        expired = self.ctx.clock() - timedelta(seconds=settings.upload_url_ttl_seconds + grace)
        async with self.ctx.db.read() as s:
            repo = AttachmentSweepRepo(s)
            live = await repo.live_blob_keys() if stored else set()
            debris.expired_uploads = await repo.pending_created_before(expired)
        unowned = set(stored) - live
        waiting = [k for k in unowned if k.startswith(f"{INCOMING}/")]
        if waiting:  # a presigned upload that arrived is owned by its pending attachment until checked
            unowned -= await self._still_pending(waiting)
        debris.orphan_blobs = sorted(unowned)
        return debris

    async def _still_pending(self, incoming: list[str]) -> set[str]:
        keep = set()
        async with self.ctx.db.read() as s:
            for key in incoming:
                attachment = await AttachmentRepo(s).get_public(key.rsplit("/", 1)[-1])
                if attachment is not None and attachment.status is AttachmentStatus.PENDING:
                    keep.add(key)
        return keep

    async def _settle_arrived(self, ids: list[str]) -> list[str]:
        """Of expired pre-uploads, those whose bytes never reached the bucket (the rest are checked now)."""
        missing = []
        for attachment_id in ids:
            async with self.ctx.db.read() as s:
                attachment = await AttachmentRepo(s).get_public(attachment_id)
            if attachment is None:
                continue
            try:
                settled = await settle_presigned(self.ctx, attachment)
            except Exception:  # one bad upload (or a store hiccup) must not stop the sweep; tried again next time
                log.exception("presigned_upload_check_failed", action="error", attachment_id=attachment_id)
                continue
            if settled.status is AttachmentStatus.PENDING:
                missing.append(attachment_id)
        return missing

    async def clean(self) -> Debris:
        """Remove (or, for pre-uploads, fail with the reason) what :meth:`find` reports; returns it."""
        debris = await self.find()
        for path in debris.temp_files + debris.partial_writes:
            await anyio.to_thread.run_sync(_remove, Path(path))
        if debris.orphan_blobs:
            async with self.ctx.db.read() as s:  # looked up again: a row may have been committed since
                live = await AttachmentSweepRepo(s).live_blob_keys()
            debris.orphan_blobs = [k for k in debris.orphan_blobs if k not in live]
            for key in debris.orphan_blobs:
                await self.ctx.blobs.delete(key)
        if debris.expired_uploads and self.ctx.settings.s3_presigned_uploads:
            debris.expired_uploads = await self._settle_arrived(debris.expired_uploads)
        if debris.expired_uploads:
            async with self.ctx.db.write() as s:
                await AttachmentSweepRepo(s).fail_pending(debris.expired_uploads, EXPIRED_UPLOAD)
        if debris.total:
            log.info("debris_cleaned", action="cleaned", **debris.counts())
        return debris


def _leftovers(root: Path, pattern: re.Pattern[str], cutoff: float, recursive: bool) -> list[str]:
    """Entries named by ``pattern`` whose writing process is gone, or that are older than ``cutoff``."""
    if not root.is_dir():
        return []
    if recursive:
        entries: Iterable[Path] = (Path(d) / n for d, dirs, files in os.walk(root) for n in [*dirs, *files])
    else:
        entries = root.iterdir()
    found = []
    for path in entries:
        match = pattern.match(path.name)
        if match is None:
            continue
        try:
            old = path.lstat().st_mtime < cutoff
        except FileNotFoundError:
            continue
        if old or not pid_alive(int(match.group(1))):
            found.append(str(path))
    return sorted(found)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
