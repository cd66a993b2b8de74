"""What an operator does with the job queue (`voicememo jobs`): see what waits or died, requeue, purge."""

from __future__ import annotations

from datetime import timedelta

import structlog

from voicememo.errors import InvalidParameter, NotFound
from voicememo.services.context import ServiceContext
from voicememo.storage.repos.job_admin import STATUSES, JobAdminRepo, JobView
from voicememo.storage.repos.jobs import DEAD, DONE

log = structlog.get_logger(__name__)


class JobOpsService:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    async def find(self, statuses: tuple[str, ...], kind: str | None = None, limit: int = 200) -> list[JobView]:
        unknown = set(statuses) - set(STATUSES)
        if unknown:
            raise InvalidParameter(f"unknown status {sorted(unknown)[0]!r}; one of {', '.join(STATUSES)}")
        async with self.ctx.db.read() as s:
            return await JobAdminRepo(s).find(statuses=statuses, kind=kind, limit=limit)

    async def retry(self, job_id: int | None) -> list[int]:
        """Requeue one dead job (``job_id``) or every dead job (None); returns the ids requeued."""
        async with self.ctx.db.write() as s:
            ids = await JobAdminRepo(s).requeue_dead(None if job_id is None else [job_id], now=self.ctx.clock())
        if job_id is not None and not ids:
            raise NotFound(f"job {job_id} is not dead (only dead jobs can be retried) or does not exist")
        if ids:
            log.info("jobs_requeued", action="requeued", count=len(ids))
            self.ctx.wakeup.ring()
        return ids

    async def purge(self, status: str, older_than_days: float) -> int:
        if status not in (DONE, DEAD):
            raise InvalidParameter(f"only done or dead jobs can be purged, not {status!r}")
        if older_than_days < 0:
            raise InvalidParameter("--older-than must be 0 or more days")
        cutoff = self.ctx.clock() - timedelta(days=older_than_days)
        async with self.ctx.db.write() as s:
            purged = await JobAdminRepo(s).purge(status, finished_before=cutoff)
        log.info("jobs_purged", action="purged", status=status, count=purged)
        return purged
