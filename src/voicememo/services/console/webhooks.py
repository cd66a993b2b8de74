"""Webhooks for the console: recent events per subscription with every attempt, redeliver, test event.

Nothing new is stored for events: an event is its delivery job (whose payload holds the exact body,
kept until retention purges done jobs) and its attempts (``webhook_attempts``, with the response
excerpt and the job id since migration 0007).

The test event's type is ``webhook.test``, outside api.md's list on purpose: a receiver that acts on
``message.*`` events must not take a test for a real message. The SDKs' ``webhooks.unwrap`` verifies
the signature and then builds the event without checking its type, so it accepts this one (the
Python SDK returns an object with ``event_type == "webhook.test"``; tests/api/test_console_webhooks.py
checks that), and a receiver that switches on the type ignores it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from voicememo.domain.models import WebhookSubscription
from voicememo.errors import Conflict, InvalidParameter, NotFound
from voicememo.services.context import ServiceContext
from voicememo.services.events import envelope, queue_delivery
from voicememo.storage.repos.jobs import JobRepo
from voicememo.storage.repos.webhook_history import AttemptRecord, DeliveryJob, WebhookHistoryRepo
from voicememo.storage.repos.webhooks import WebhookRepo

TEST_EVENT_TYPE = "webhook.test"
MAX_EVENTS = 200


@dataclass(frozen=True, slots=True)
class AttemptView:
    attempt: int
    at: datetime
    status_code: int | None
    duration_ms: int
    outcome: str  # delivered, retry, gave_up
    error: str | None
    #: the first ≤ 512 characters of the response body (None: no answer, or recorded before 0007)
    response_excerpt: str | None


@dataclass(frozen=True, slots=True)
class EventView:
    event_id: str
    event_type: str
    subscription_id: str
    #: the first attempt's time (or the job's, for an event not tried yet)
    first_at: datetime
    #: the last attempt's outcome, or "queued" while a delivery of it waits
    outcome: str
    attempts: tuple[AttemptView, ...]
    #: whether the event's body is still stored (redeliver needs it)
    redeliverable: bool


def _view(a: AttemptRecord) -> AttemptView:
    return AttemptView(a.attempt, a.at, a.status_code, a.duration_ms, a.outcome, a.error, a.response_excerpt)


class WebhookConsole:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    async def subscriptions(self, partner_id: str) -> list[WebhookSubscription]:
        async with self.ctx.db.read() as s:
            return await WebhookRepo(s).list_all(partner_id)

    async def events(self, partner_id: str, subscription_id: str, *, limit: int = 50) -> list[EventView]:
        """The subscription's events, newest first: those waiting for their first try, then the most
        recently tried, each with all its attempts (oldest first). NotFound when not the partner's."""
        if not 1 <= limit <= MAX_EVENTS:
            raise InvalidParameter(f"limit must be 1 to {MAX_EVENTS}.")
        async with self.ctx.db.read() as s:
            await self._subscription(s, partner_id, subscription_id)
            history = WebhookHistoryRepo(s)
            event_ids = await history.recent_event_ids(partner_id, subscription_id, limit)
            attempts = await history.attempts(partner_id, event_ids, subscription_id)
            waiting = await history.jobs(partner_id, subscription_id=subscription_id, unfinished_only=True)
            known = await history.jobs(
                partner_id,
                job_ids=[a.job_id for a in attempts if a.job_id is not None],
                event_ids=[a.event_id for a in attempts if a.job_id is None],
                subscription_id=subscription_id,
            ) if attempts else []  # fmt: skip
        stored = {str(j.payload["event_id"]) for j in [*known, *waiting]}
        by_event: dict[str, list[AttemptRecord]] = {e: [] for e in event_ids}
        for a in attempts:
            by_event[a.event_id].append(a)
        views = [
            EventView(j.payload["event_id"], j.payload["event_type"], subscription_id, j.created_at, "queued", (), True)
            for j in sorted(waiting, key=lambda j: j.id, reverse=True)
            if j.payload["event_id"] not in by_event
        ]
        for event_id in event_ids:
            tried = by_event[event_id]
            views.append(
                EventView(
                    event_id,
                    tried[0].event_type,
                    subscription_id,
                    tried[0].at,
                    "queued" if any(j.payload["event_id"] == event_id for j in waiting) else tried[-1].outcome,
                    tuple(_view(a) for a in tried),
                    event_id in stored,
                )
            )
        return views[:limit]

    async def redeliver(self, partner_id: str, event_id: str, subscription_id: str | None = None) -> int:
        """Queue the same event again (same body, same webhook-id, new attempts) to the subscription(s) it
        went to; returns how many deliveries were queued. NotFound when the event is not the partner's
        or its body is gone (retention purged its job)."""
        async with self.ctx.db.write() as s:
            history = WebhookHistoryRepo(s)
            tried = await history.attempts(partner_id, [event_id], subscription_id)
            jobs = await history.jobs(
                partner_id,
                job_ids=[a.job_id for a in tried if a.job_id is not None],
                event_ids=[event_id],
                subscription_id=subscription_id,
            )
            sources: dict[str, DeliveryJob] = {}
            for job in jobs:
                if job.payload.get("event_id") == event_id:
                    sources.setdefault(str(job.payload["subscription_id"]), job)
            if not sources:
                raise NotFound(
                    f"No webhook event {event_id} with a stored body (events are kept as long as their jobs)."
                )
            repo, queue = WebhookRepo(s), JobRepo(s)
            queued = 0
            for sub_id, job in sources.items():
                sub = await repo.get(partner_id, sub_id)
                if sub is None or not sub.is_active:
                    continue  # deleted or paused: its deliveries would be dropped anyway
                await queue_delivery(self.ctx, queue, _same_event(job.payload), order_key=None)
                queued += 1
        if not queued:
            raise Conflict("The event's subscriptions are deleted or paused; nothing was queued.")
        self.ctx.wakeup.ring()
        return queued

    async def send_test_event(self, partner_id: str, subscription_id: str) -> str:
        """Queue a signed ``webhook.test`` event to the subscription now, whatever types it subscribes
        to; returns its event id. NotFound when not the partner's; Conflict when it is paused."""
        async with self.ctx.db.write() as s:
            sub = await self._subscription(s, partner_id, subscription_id)
            if not sub.is_active:
                raise Conflict("The subscription is paused; activate it to send a test event.")
            data = {
                "subscription_id": sub.id,
                "target_url": sub.target_url,
                "message": "A test event sent from the voicememo console.",
            }
            event_id, body = envelope(self.ctx, partner_id=partner_id, event_type=TEST_EVENT_TYPE, data=data)
            payload = {
                "subscription_id": sub.id,
                "partner_id": partner_id,
                "event_id": event_id,
                "event_type": TEST_EVENT_TYPE,
                "body": body,
            }
            await queue_delivery(self.ctx, JobRepo(s), payload, order_key=None)
        self.ctx.wakeup.ring()
        return event_id

    async def _subscription(self, s: Any, partner_id: str, subscription_id: str) -> WebhookSubscription:
        sub = await WebhookRepo(s).get(partner_id, subscription_id)
        if sub is None:
            raise NotFound(f"Webhook subscription {subscription_id} not found.")
        return sub


def _same_event(payload: dict[str, Any]) -> dict[str, Any]:
    keep = ("subscription_id", "partner_id", "event_id", "event_type", "body")
    return {k: payload[k] for k in keep}
