"""The operator view (admin token, not a partner key): the queue, dead jobs, recent failures.

Ages are measured against the service clock; a queued job's age runs from its creation (a job
scheduled for later, like the periodic ones, is young because each run enqueues the next).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from voicememo.errors import InvalidParameter
from voicememo.services.context import ServiceContext
from voicememo.services.job_ops import JobOpsService
from voicememo.storage.repos.job_admin import JobView
from voicememo.storage.repos.jobs import DEAD
from voicememo.storage.repos.operator import OperatorRepo

MAX_LIST = 500


@dataclass(frozen=True, slots=True)
class QueueStat:
    kind: str
    status: str  # queued, running, dead (done jobs are not the queue)
    count: int
    oldest_at: datetime
    #: seconds since ``oldest_at`` by the service clock
    oldest_age_seconds: float


@dataclass(frozen=True, slots=True)
class Failure:
    """A failed message or a dead job, for the "recent failures" list."""

    kind: str  # "message" | "job"
    id: str
    at: datetime
    reason: str | None
    code: int | None
    #: message: its partner; job: None (jobs belong to the server)
    partner_id: str | None
    #: message: "chat <id>"; job: its kind
    detail: str


def _check(limit: int) -> None:
    if not 1 <= limit <= MAX_LIST:
        raise InvalidParameter(f"limit must be 1 to {MAX_LIST}.")


class OperatorService:
    def __init__(self, ctx: ServiceContext, job_ops: JobOpsService) -> None:
        self.ctx = ctx
        self.job_ops = job_ops

    async def queue(self) -> list[QueueStat]:
        """Count and oldest age per (kind, status) of queued, running and dead jobs."""
        async with self.ctx.db.read() as s:
            depth = await OperatorRepo(s).depth()
        now = self.ctx.clock()
        return [
            QueueStat(d.kind, d.status, d.count, d.oldest_at, max(0.0, (now - d.oldest_at).total_seconds()))
            for d in depth
        ]

    async def dead_jobs(self, limit: int = 100) -> list[JobView]:
        """Dead jobs with their last error (``JobView.last_error``), as `voicememo jobs list` shows them."""
        _check(limit)
        return await self.job_ops.find((DEAD,), limit=limit)

    async def retry(self, job_id: int) -> None:
        """Requeue one dead job (NotFound when it is not dead), as `voicememo jobs retry` does."""
        await self.job_ops.retry(job_id)

    async def recent_failures(self, limit: int = 50) -> list[Failure]:
        """Failed messages and dead jobs, newest first, at most ``limit`` in all."""
        _check(limit)
        async with self.ctx.db.read() as s:
            repo = OperatorRepo(s)
            messages = await repo.failed_messages(limit)
            jobs = await repo.dead_jobs(limit)
        failures = [
            Failure("message", m.id, m.at, m.reason, m.code, m.partner_id, f"chat {m.chat_id}") for m in messages
        ] + [Failure("job", str(j.id), j.at, j.last_error, None, None, j.kind) for j in jobs]
        failures.sort(key=lambda f: f.at, reverse=True)
        return failures[:limit]
