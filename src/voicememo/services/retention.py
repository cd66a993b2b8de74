"""Retention: what only grows is pruned by a periodic job (and by `voicememo jobs purge` on demand).

- done jobs, once ``RETENTION_DONE_JOBS_DAYS`` old (dead jobs stay until an operator acts on them);
- idempotency records past their 24 h window (a retry after it is a new request anyway);
- webhook delivery attempts, once ``RETENTION_WEBHOOK_ATTEMPTS_DAYS`` old;
- the sandbox outbox's recorded sends, once ``RETENTION_OUTBOX_DAYS`` old (by the folder's time; its
  staging folders are the debris sweep's).

Ages are measured against the injected clock.
"""

from __future__ import annotations

import shutil
from dataclasses import asdict, dataclass
from datetime import timedelta
from pathlib import Path

import anyio
import structlog

from voicememo.services.context import ServiceContext
from voicememo.storage.repos.idempotency import WINDOW, IdempotencyRepo
from voicememo.storage.repos.job_admin import JobAdminRepo
from voicememo.storage.repos.jobs import DONE
from voicememo.storage.repos.webhooks import AttemptRepo

RETENTION_JOB = "retention"
log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Pruned:
    done_jobs: int
    idempotency_records: int
    webhook_attempts: int
    outbox_entries: int


class RetentionService:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    async def prune(self) -> Pruned:
        settings = self.ctx.settings
        now = self.ctx.clock()
        async with self.ctx.db.write() as s:
            done_jobs = await JobAdminRepo(s).purge(
                DONE, finished_before=now - timedelta(days=settings.retention_done_jobs_days)
            )
            idempotency = await IdempotencyRepo(s).purge_older_than(now - WINDOW)
            attempts = await AttemptRepo(s).purge_older_than(
                now - timedelta(days=settings.retention_webhook_attempts_days)
            )
        cutoff = (now - timedelta(days=settings.retention_outbox_days)).timestamp()
        outbox = await anyio.to_thread.run_sync(_prune_outbox, settings.outbox_dir, cutoff)
        pruned = Pruned(done_jobs, idempotency, attempts, outbox)
        if any(asdict(pruned).values()):
            log.info("retention_pruned", action="pruned", **asdict(pruned))
        return pruned


def _prune_outbox(outbox: Path, cutoff: float) -> int:
    if not outbox.is_dir():
        return 0
    pruned = 0
    for entry in outbox.iterdir():
        if entry.name.startswith(".") or not entry.is_dir() or entry.is_symlink():
            continue
        try:
            old = entry.stat().st_mtime < cutoff
        except FileNotFoundError:
            continue
        if old:
            shutil.rmtree(entry, ignore_errors=True)
            pruned += 1
    return pruned
