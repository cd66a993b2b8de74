"""Moving a message's status, with its webhook event, inside one transaction.

Status rule (documented in the README): ``queued`` → ``sent`` when the sender accepted it;
``delivered`` once every recipient's device has it; ``read`` once every recipient has read
it. A send that cannot succeed is ``failed`` with code 4001 and the reason. The status only
moves forward, so duplicate and out-of-order receipts are harmless.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from voicememo.domain.models import Chat, DeliveryStatus, Message
from voicememo.services import events
from voicememo.services.context import ServiceContext
from voicememo.storage.repos.chats import ChatRepo
from voicememo.storage.repos.messages import MessageRepo

log = structlog.get_logger("voicememo.delivery")
DELIVERY_FAILED = 4001
_EVENT = {
    DeliveryStatus.SENT: "message.sent",
    DeliveryStatus.DELIVERED: "message.delivered",
    DeliveryStatus.READ: "message.read",
    DeliveryStatus.FAILED: "message.failed",
}


class Tracker:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    async def load(self, partner_id: str, message_id: str) -> tuple[Message, Chat] | None:
        async with self.ctx.db.read() as s:
            message = await MessageRepo(s).get(partner_id, message_id)
            chat = await ChatRepo(s).get(partner_id, message.chat_id) if message else None
        return (message, chat) if message and chat else None

    async def move(
        self,
        partner_id: str,
        message_id: str,
        status: DeliveryStatus,
        *,
        allowed_from: set[DeliveryStatus],
        error: str | None = None,
    ) -> Message | None:
        """The move in a transaction of its own."""
        async with self.ctx.db.write() as s:
            moved = await self.move_in(s, partner_id, message_id, status, allowed_from=allowed_from, error=error)
        self.announce(moved, error)
        return moved

    async def move_in(
        self,
        s: AsyncSession,
        partner_id: str,
        message_id: str,
        status: DeliveryStatus,
        *,
        allowed_from: set[DeliveryStatus],
        error: str | None = None,
        chat: Chat | None = None,
        at: datetime | None = None,
        message: Message | None = None,
    ) -> Message | None:
        """The move inside the caller's transaction; call :meth:`announce` once it has committed.
        ``chat`` / ``message``: as the caller loaded them (saves reloading; the status guard is in the
        UPDATE itself); ``at``: when the provider says it happened (never before the message was sent:
        clocks on the two sides differ)."""
        now = self.ctx.clock()
        repo = MessageRepo(s)
        message = message or await repo.get(partner_id, message_id)
        if message is None or message.delivery_status not in allowed_from:
            return None
        when = min(at, now) if at is not None else now
        if message.sent_at is not None:
            when = max(when, message.sent_at)
        values: dict[str, object] = {"updated_at": now}
        if status is DeliveryStatus.SENT:
            values["sent_at"] = now
        if status in (DeliveryStatus.DELIVERED, DeliveryStatus.READ) and message.delivered_at is None:
            values["delivered_at"] = when
        if status is DeliveryStatus.READ:
            values["read_at"] = when
        if status is DeliveryStatus.FAILED:
            values.update(error_code=DELIVERY_FAILED, error_reason=error)
        if not await repo.move(message_id, status, allowed_from, **values):
            return None  # moved meanwhile by someone else
        moved = replace(message, delivery_status=status, **values)  # type: ignore[arg-type]
        chat = chat or await ChatRepo(s).get(partner_id, message.chat_id)
        assert chat is not None
        data = (
            events.failed_data(moved) if status is DeliveryStatus.FAILED else events.message_data(self.ctx, moved, chat)
        )
        await events.emit(
            self.ctx,
            s,
            partner_id=partner_id,
            event_type=_EVENT[status],
            data=data,
            line_number=chat.line_number,
            subject_id=message_id,
        )
        return moved

    def announce(self, moved: Message | None, error: str | None = None) -> None:
        """After commit: wake the workers for the events just queued, and log the move."""
        if moved is None:
            return
        self.ctx.wakeup.ring()
        log.info("message_status", action=moved.delivery_status.value, message_id=moved.id, reason=error)
