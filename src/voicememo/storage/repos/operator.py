"""Across partners, for the operator view only: the queue's depth and age, recent failures."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from voicememo.domain.models import DeliveryStatus
from voicememo.storage.repos.jobs import DEAD, QUEUED, RUNNING
from voicememo.storage.tables import JobRow, MessageRow


@dataclass(frozen=True, slots=True)
class Depth:
    kind: str
    status: str
    count: int
    oldest_at: datetime


@dataclass(frozen=True, slots=True)
class FailedMessage:
    id: str
    partner_id: str
    chat_id: str
    at: datetime
    code: int | None
    reason: str | None


@dataclass(frozen=True, slots=True)
class DeadJob:
    id: int
    kind: str
    at: datetime
    last_error: str | None


class OperatorRepo:
    def __init__(self, session: AsyncSession) -> None:
        self.s = session

    async def depth(self) -> list[Depth]:
        """Per (kind, status) of the unfinished and dead jobs: how many, and the oldest one's creation."""
        rows = await self.s.execute(
            select(JobRow.kind, JobRow.status, func.count(JobRow.id), func.min(JobRow.created_at))
            .where(JobRow.status.in_((QUEUED, RUNNING, DEAD)))
            .group_by(JobRow.kind, JobRow.status)
            .order_by(JobRow.kind, JobRow.status)
        )
        return [Depth(str(kind), str(status), int(n), oldest) for kind, status, n, oldest in rows]

    async def failed_messages(self, limit: int) -> list[FailedMessage]:
        rows = await self.s.scalars(
            select(MessageRow)
            .where(MessageRow.delivery_status == DeliveryStatus.FAILED.value)
            .order_by(MessageRow.updated_at.desc(), MessageRow.id.desc())
            .limit(limit)
        )
        return [FailedMessage(r.id, r.partner_id, r.chat_id, r.updated_at, r.error_code, r.error_reason) for r in rows]

    async def dead_jobs(self, limit: int) -> list[DeadJob]:
        rows = await self.s.scalars(
            select(JobRow)
            .where(JobRow.status == DEAD)
            .order_by(JobRow.updated_at.desc(), JobRow.id.desc())
            .limit(limit)
        )
        return [DeadJob(r.id, r.kind, r.updated_at, r.last_error) for r in rows]
