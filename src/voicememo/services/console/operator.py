"""The operator view (admin token, not a partner key): the queue, dead jobs, recent failures."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from voicememo.services.context import ServiceContext
from voicememo.services.job_ops import JobOpsService
from voicememo.storage.repos.job_admin import JobView


@dataclass(frozen=True, slots=True)
class QueueStat:
    kind: str
    status: str  # queued, running, dead (done jobs are not the queue)
    count: int
    oldest_at: datetime | None
    #: seconds since ``oldest_at`` by the service clock
    oldest_age_seconds: float | None


@dataclass(frozen=True, slots=True)
class Failure:
    """A failed message or a dead job, for the "recent failures" list."""

    kind: str  # "message" | "job"
    id: str
    at: datetime
    reason: str | None
    code: int | None
    partner_id: str | None
    #: message: its chat; job: its kind
    detail: str


class OperatorService:
    def __init__(self, ctx: ServiceContext, job_ops: JobOpsService) -> None:
        self.ctx = ctx
        self.job_ops = job_ops

    async def queue(self) -> list[QueueStat]:
        """Count and oldest age per (kind, status) of unfinished and dead jobs."""
        raise NotImplementedError

    async def dead_jobs(self, limit: int = 100) -> list[JobView]:
        """Dead jobs with their last error (JobView.last_error), oldest first."""
        raise NotImplementedError

    async def retry(self, job_id: int) -> None:
        """Requeue one dead job (NotFound when it is not dead)."""
        raise NotImplementedError

    async def recent_failures(self, limit: int = 50) -> list[Failure]:
        """Failed messages and dead jobs, newest first, at most ``limit``."""
        raise NotImplementedError
