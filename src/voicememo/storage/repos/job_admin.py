"""What operators and retention do to the jobs table: list, requeue the dead, delete the finished.

Kept apart from `jobs.py` (the worker's claim/settle path): nothing here takes part in a lease.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from voicememo.storage.repos.jobs import DEAD, DONE, QUEUED, RUNNING
from voicememo.storage.tables import JobRow

STATUSES = (QUEUED, RUNNING, DONE, DEAD)


@dataclass(frozen=True, slots=True)
class JobView:
    id: int
    kind: str
    status: str
    attempts: int
    max_attempts: int
    run_at: datetime
    last_error: str | None
    created_at: datetime
    updated_at: datetime
    #: queued behind an earlier open job of its order key (its chat's, its event's): it runs after that one
    held: bool = False


class JobAdminRepo:
    def __init__(self, session: AsyncSession) -> None:
        self.s = session

    async def find(self, *, statuses: tuple[str, ...], kind: str | None = None, limit: int = 200) -> list[JobView]:
        stmt = select(JobRow).where(JobRow.status.in_(statuses)).order_by(JobRow.run_at, JobRow.id).limit(limit)
        if kind:
            stmt = stmt.where(JobRow.kind == kind)
        return [
            JobView(r.id, r.kind, r.status, r.attempts, r.max_attempts, r.run_at, r.last_error, r.created_at,
                    r.updated_at, r.held)
            for r in await self.s.scalars(stmt)
        ]  # fmt: skip

    async def requeue_dead(self, job_ids: list[int] | None, *, now: datetime) -> list[int]:
        """Dead jobs (these, or all) become due now with a fresh count of attempts; returns their ids."""
        stmt = select(JobRow.id).where(JobRow.status == DEAD)
        if job_ids is not None:
            stmt = stmt.where(JobRow.id.in_(job_ids))
        ids = sorted(await self.s.scalars(stmt))
        if ids:
            await self.s.execute(
                update(JobRow).where(JobRow.id.in_(ids), JobRow.status == DEAD)
                .values(status=QUEUED, attempts=0, run_at=now, lease_owner=None, lease_until=None, updated_at=now)
            )  # fmt: skip
        return ids

    async def purge(self, status: str, *, finished_before: datetime) -> int:
        """Delete jobs in ``status`` (done or dead: never one that may still run) last changed before the cutoff."""
        if status not in (DONE, DEAD):
            raise ValueError(f"only done or dead jobs can be purged, not {status!r}")
        result = await self.s.execute(
            delete(JobRow).where(JobRow.status == status, JobRow.updated_at < finished_before)
        )
        return int(getattr(result, "rowcount", 0))
