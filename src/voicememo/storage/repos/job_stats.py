"""The open jobs at a glance, for /metrics: one grouped read of the queued and running jobs.

The filter on status is served by ``ix_jobs_claim`` (status, run_at), so the cost follows the open
jobs, not the history of finished ones that retention keeps for days.
"""

from __future__ import annotations

from typing import cast

from sqlalchemy import Table, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from voicememo.metrics import QueueRow
from voicememo.storage.repos.jobs import QUEUED, RUNNING
from voicememo.storage.tables import JobRow

_JOBS = cast(Table, JobRow.__table__)


async def open_jobs(s: AsyncSession) -> list[QueueRow]:
    jobs = _JOBS
    rows = await s.execute(
        select(jobs.c.kind, jobs.c.status, func.count(), func.min(jobs.c.run_at))
        .where(jobs.c.status.in_((QUEUED, RUNNING)))
        .group_by(jobs.c.kind, jobs.c.status)
    )
    return [QueueRow(kind, status, int(count), oldest) for kind, status, count, oldest in rows]
