"""Receipts arrive as events: from a provider's callback, from polling it, and from the sandbox.

All three end in :meth:`ReceiptService.record`, which finds our message by the provider's id
for the line, keeps per-recipient receipts and moves the status (only forward) with its
webhook, in one transaction. A message still ``sent`` after RECONCILE_AFTER_SECONDS is
polled at its provider with growing pauses until RECONCILE_GIVE_UP_SECONDS after sending,
so a lost callback never leaves a memo ``sent`` for good.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from voicememo.domain.models import Chat, DeliveryStatus, Message
from voicememo.jobs.retry import RetryPolicy
from voicememo.jobs.worker import Wakeup
from voicememo.senders.base import ChatRef, ReceiptEvent, ReceiptKind, SenderError
from voicememo.services.context import ServiceContext
from voicememo.services.tracker import Tracker
from voicememo.storage.db import Database
from voicememo.storage.repos.chats import ChatRepo
from voicememo.storage.repos.delivery import ReceiptRepo
from voicememo.storage.repos.jobs import Job, JobRepo
from voicememo.storage.repos.messages import MessageRepo
from voicememo.storage.repos.sends import SendRepo

log = structlog.get_logger("voicememo.receipts")
RECEIPT_JOB, RECONCILE_JOB = "receipt", "reconcile"
#: stored with each job at enqueue (the worker honours the stored cap)
RECEIPT_MAX_ATTEMPTS, RECONCILE_MAX_ATTEMPTS = 10, 3
_MAX_RECONCILE_PAUSE = timedelta(hours=1)


class ReceiptService:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx
        self.tracker = Tracker(ctx)

    async def record(self, line_id: str, event: ReceiptEvent) -> bool:
        """Apply one receipt; False when no message sent from this line has that provider id (yet)."""
        return await self.record_for_message(None, line_id, event)

    async def record_for_message(
        self, message_key: tuple[str, str] | None, line_id: str, event: ReceiptEvent, job: Job | None = None
    ) -> bool:
        """``message_key``: (partner id, message id) when known; else found by the provider id for the line.
        ``job``: the receipt job, marked done in the same transaction when the receipt is applied."""
        moves: list[Message] = []
        async with self.ctx.db.write() as s:  # the receipt and the moves it causes: one transaction
            found = message_key or await SendRepo(s).message_for(line_id, event.provider_message_id)
            if found is None:
                return False
            if job is not None:
                await JobRepo(s).settle_done(job, now=self.ctx.clock())
            partner_id, message_id = found
            await MessageRepo(s).lock(message_id)  # receipts of one message apply one after another
            message = await MessageRepo(s).get(partner_id, message_id)
            chat = await ChatRepo(s).get(partner_id, message.chat_id) if message else None
            if message is None or chat is None:
                return True
            moves = await self.apply_in(s, message, chat, event)
        for moved in moves:
            self.tracker.announce(moved, event.reason)
        return True

    async def apply_in(self, s: AsyncSession, message: Message, chat: Chat, event: ReceiptEvent) -> list[Message]:
        """One receipt of a loaded message, inside the caller's transaction (which holds the message's row
        or, on SQLite, the write lock); returns the moves to announce once it has committed."""
        moves: list[Message | None] = []
        if event.kind is ReceiptKind.FAILED:
            reason = f"The provider reported the message as not delivered: {event.reason or 'no reason given'}"
            moves.append(
                await self.tracker.move_in(
                    s,
                    message.partner_id,
                    message.id,
                    DeliveryStatus.FAILED,
                    allowed_from={DeliveryStatus.QUEUED, DeliveryStatus.SENT},
                    error=reason,
                    chat=chat,
                    message=message,
                )
            )
            return [m for m in moves if m is not None]
        repo = ReceiptRepo(s)
        everyone = [h.handle for h in chat.recipients]
        receipts: dict[str, tuple[datetime | None, datetime | None]] = {}
        for handle in [event.handle] if event.handle else everyone:
            receipts[handle] = await repo.record(message.id, handle, event.kind.value, event.at)
        if message.delivery_status not in (DeliveryStatus.SENT, DeliveryStatus.DELIVERED):
            return []  # not sent yet (an earlier part's receipt) or already read/failed: nothing can move
        if not set(everyone) <= receipts.keys():  # a group's receipt for one member: read the others'
            receipts = await repo.for_message(message.id)
        for status, column, allowed in (
            (DeliveryStatus.DELIVERED, 0, {DeliveryStatus.SENT}),
            (DeliveryStatus.READ, 1, {DeliveryStatus.SENT, DeliveryStatus.DELIVERED}),
        ):
            if all(receipts.get(h, (None, None))[column] for h in everyone):
                moved = await self.tracker.move_in(
                    s,
                    message.partner_id,
                    message.id,
                    status,
                    allowed_from=allowed,
                    chat=chat,
                    at=event.at,
                    message=message,
                )
                message = moved or message
                moves.append(moved)
        return [m for m in moves if m is not None]

    async def record_all(self, line_id: str, events: list[ReceiptEvent]) -> int:
        """Apply what a provider pushed or answered; returns how many were about our messages."""
        return sum([await self.record(line_id, e) for e in events])


def event_payload(line_id: str, event: ReceiptEvent) -> dict[str, Any]:
    return {
        "line_id": line_id,
        "provider_message_id": event.provider_message_id,
        "kind": event.kind.value,
        "handle": event.handle,
        "at": event.at.isoformat(),
        "reason": event.reason,
    }


class JobReceiptSink:
    """Receipts a sender simulates (the sandbox) become jobs due when they "happen"."""

    def __init__(self, db: Database, clock: Any, wakeup: Wakeup) -> None:
        self.db = db
        self.clock = clock
        self.wakeup = wakeup

    async def later(self, line_id: str, receipts: list[tuple[ReceiptEvent, float]]) -> None:
        now = self.clock()
        async with self.db.write() as s:
            for event, after in receipts:
                await JobRepo(s).enqueue(
                    RECEIPT_JOB,
                    event_payload(line_id, event),
                    now=now,
                    run_at=now + timedelta(seconds=after),
                    order_key=f"rc:{line_id}:{event.provider_message_id}",
                    max_attempts=RECEIPT_MAX_ATTEMPTS,
                )
        self.wakeup.ring()


class ReceiptNotYetKnown(Exception):
    """The receipt is for a send whose acceptance has not committed yet: try again shortly."""


class ReceiptHandler:
    def __init__(self, ctx: ServiceContext) -> None:
        self.receipts = ReceiptService(ctx)
        self.policy = RetryPolicy(base_seconds=0.5, max_delay_seconds=30)

    async def run(self, job: Job) -> bool:
        p = job.payload
        if "message_id" in p:  # queued by a version before provider ids: a sandbox receipt by message id
            event = ReceiptEvent("", ReceiptKind(p["kind"]), self.receipts.ctx.clock(), p["handle"])
            return await self.receipts.record_for_message((p["partner_id"], p["message_id"]), "", event, job)
        event = ReceiptEvent(
            p["provider_message_id"], ReceiptKind(p["kind"]), datetime.fromisoformat(p["at"]), p["handle"], p["reason"]
        )
        if not await self.receipts.record_for_message(None, p["line_id"], event, job):
            raise ReceiptNotYetKnown(f"no message of line {p['line_id']} has provider id {event.provider_message_id}")
        return True

    async def give_up(self, job: Job, reason: str) -> None:
        log.warning("receipt_dropped", action="gave_up", reason=reason)


@dataclass(frozen=True)
class ReconcilePlan:
    after: timedelta
    give_up: timedelta

    def pause(self, round_: int) -> timedelta:
        """The first poll ``after`` the send, then twice as long each time, at most an hour apart."""
        longest = max(self.after, _MAX_RECONCILE_PAUSE)
        return min(self.after * (1 << round_), longest)


async def schedule_reconcile(ctx: ServiceContext, s: Any, message: Message, line_id: str, round_: int = 0) -> None:
    """In the caller's transaction: poll this message's provider later unless receipts arrive first."""
    plan = reconcile_plan(ctx)
    now = ctx.clock()
    await JobRepo(s).enqueue(
        RECONCILE_JOB,
        {"partner_id": message.partner_id, "message_id": message.id, "line_id": line_id, "round": round_},
        now=now,
        run_at=now + plan.pause(round_),
        max_attempts=RECONCILE_MAX_ATTEMPTS,
    )


def reconcile_plan(ctx: ServiceContext) -> ReconcilePlan:
    settings = ctx.settings
    return ReconcilePlan(
        timedelta(seconds=settings.reconcile_after_seconds), timedelta(seconds=settings.reconcile_give_up_seconds)
    )


class ReconcileHandler:
    """Poll the provider for a message that stays ``sent``; reschedule with back-off; stop after a day."""

    def __init__(self, ctx: ServiceContext, senders: Any) -> None:
        self.ctx = ctx
        self.lines = senders
        self.receipts = ReceiptService(ctx)
        self.tracker = Tracker(ctx)
        self.policy = RetryPolicy(base_seconds=5.0)

    async def run(self, job: Job) -> None:
        p = job.payload
        loaded = await self.tracker.load(p["partner_id"], p["message_id"])
        if loaded is None or loaded[0].delivery_status is not DeliveryStatus.SENT:
            return
        message, chat = loaded
        assert message.sent_at is not None
        async with self.ctx.db.read() as s:
            provider_ids = await SendRepo(s).provider_ids(message.id)
        ref = ChatRef(
            chat.id, tuple(h.handle for h in chat.recipients), message.service, chat.is_group, chat.provider_chat_id
        )
        try:
            _line, sender = await self.lines.sender_for(p["line_id"])
            for provider_id in provider_ids:
                await self.receipts.record_all(p["line_id"], await sender.poll(provider_id, ref))
        except SenderError as exc:  # the Mac may be off for hours: keep polling until the deadline
            log.info("reconcile_failed", action="retried", message_id=message.id, reason=exc.message)
        except LookupError:  # the line was removed
            return
        still = await self.tracker.load(p["partner_id"], p["message_id"])
        if still is None or still[0].delivery_status is not DeliveryStatus.SENT:
            log.info("reconciled", action="finished", message_id=message.id, status=still and still[0].delivery_status)
            return
        plan = reconcile_plan(self.ctx)
        if self.ctx.clock() + plan.pause(p["round"] + 1) - message.sent_at > plan.give_up:
            log.warning("reconcile_gave_up", action="gave_up", message_id=message.id)
            return
        async with self.ctx.db.write() as s:
            await schedule_reconcile(self.ctx, s, message, p["line_id"], p["round"] + 1)

    async def give_up(self, job: Job, reason: str) -> None:
        log.warning("reconcile_dropped", action="gave_up", message_id=job.payload["message_id"], reason=reason)
