"""Webhook history for the console: a subscription's recent events with every attempt, and the delivery
jobs whose payloads hold the events' bodies (for redelivery). Every query filters on the partner."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from voicememo.storage.repos.jobs import QUEUED, RUNNING
from voicememo.storage.tables import JobRow, WebhookAttemptRow

WEBHOOK_JOB = "webhook"  # services/events.py's kind (storage does not import services)


@dataclass(frozen=True, slots=True)
class AttemptRecord:
    event_id: str
    event_type: str
    subscription_id: str
    attempt: int
    at: datetime
    status_code: int | None
    duration_ms: int
    outcome: str
    error: str | None
    response_excerpt: str | None
    job_id: int | None


@dataclass(frozen=True, slots=True)
class DeliveryJob:
    id: int
    status: str
    created_at: datetime
    payload: dict[str, Any]


def _attempt(r: WebhookAttemptRow) -> AttemptRecord:
    return AttemptRecord(
        r.event_id, r.event_type, r.subscription_id, r.attempt, r.created_at, r.status_code, r.duration_ms,
        r.outcome, r.error, r.response_excerpt, r.job_id,
    )  # fmt: skip


def _payload_field(name: str) -> Any:
    return JobRow.payload[name].as_string()


class WebhookHistoryRepo:
    def __init__(self, session: AsyncSession) -> None:
        self.s = session

    async def recent_event_ids(self, partner_id: str, subscription_id: str, limit: int) -> list[str]:
        """The subscription's events with attempts, the most recently tried first."""
        rows = await self.s.execute(
            select(WebhookAttemptRow.event_id, func.max(WebhookAttemptRow.created_at).label("last"))
            .where(WebhookAttemptRow.partner_id == partner_id, WebhookAttemptRow.subscription_id == subscription_id)
            .group_by(WebhookAttemptRow.event_id)
            .order_by(func.max(WebhookAttemptRow.created_at).desc(), WebhookAttemptRow.event_id)
            .limit(limit)
        )
        return [str(event_id) for event_id, _ in rows]

    async def attempts(
        self, partner_id: str, event_ids: Iterable[str], subscription_id: str | None = None
    ) -> list[AttemptRecord]:
        ids = list(event_ids)
        if not ids:
            return []
        stmt = select(WebhookAttemptRow).where(
            WebhookAttemptRow.partner_id == partner_id, WebhookAttemptRow.event_id.in_(ids)
        )
        if subscription_id is not None:
            stmt = stmt.where(WebhookAttemptRow.subscription_id == subscription_id)
        rows = await self.s.scalars(stmt.order_by(WebhookAttemptRow.created_at, WebhookAttemptRow.attempt))
        return [_attempt(r) for r in rows]

    async def jobs(
        self,
        partner_id: str,
        *,
        job_ids: Iterable[int] = (),
        event_ids: Iterable[str] = (),
        subscription_id: str | None = None,
        unfinished_only: bool = False,
    ) -> list[DeliveryJob]:
        """The partner's delivery jobs by id, or by event (a scan of the webhook jobs' payloads: for
        attempts recorded before migration 0007 and for events not tried yet)."""
        by_id, by_event = list(job_ids), list(event_ids)
        stmt = select(JobRow).where(JobRow.kind == WEBHOOK_JOB, _payload_field("partner_id") == partner_id)
        if by_id or by_event:
            stmt = stmt.where(or_(JobRow.id.in_(by_id), _payload_field("event_id").in_(by_event)))
        if subscription_id is not None:
            stmt = stmt.where(_payload_field("subscription_id") == subscription_id)
        if unfinished_only:
            stmt = stmt.where(JobRow.status.in_((QUEUED, RUNNING)))
        rows = await self.s.scalars(stmt.order_by(JobRow.id))
        return [DeliveryJob(r.id, r.status, r.created_at, dict(r.payload)) for r in rows]
