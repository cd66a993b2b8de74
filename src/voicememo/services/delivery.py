"""Delivery: the jobs that render, send and track a message, and the status rule they apply.

Status rule (documented in the README): ``queued`` → ``sent`` when the sender accepted it;
``delivered`` once every recipient's device has it; ``read`` once every recipient has read
it (1:1 chats: the one recipient). A send that cannot succeed is ``failed`` with code 4001
and the reason. Each transition commits with its webhook jobs.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import anyio
import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from voicememo.audio.render import RenditionFailed
from voicememo.domain.models import Attachment, Chat, DeliveryStatus, Message, Service
from voicememo.jobs.retry import RetryPolicy
from voicememo.senders.base import ExpectedReceipt, Outgoing, SendRejected
from voicememo.services import events
from voicememo.services.context import ServiceContext
from voicememo.storage.incoming import temp_path
from voicememo.storage.repos.chats import ChatRepo
from voicememo.storage.repos.delivery import ReceiptRepo, RenditionRepo, StoredRendition
from voicememo.storage.repos.jobs import Job, JobRepo
from voicememo.storage.repos.messages import MessageRepo
from voicememo.storage.repos.partners import PartnerRepo

log = structlog.get_logger("voicememo.delivery")
DELIVER_JOB, RECEIPT_JOB = "deliver", "receipt"
DELIVERY_FAILED = 4001
_EVENT = {
    DeliveryStatus.SENT: "message.sent",
    DeliveryStatus.DELIVERED: "message.delivered",
    DeliveryStatus.READ: "message.read",
    DeliveryStatus.FAILED: "message.failed",
}


async def enqueue_delivery(ctx: ServiceContext, s: AsyncSession, message: Message) -> None:
    """The delivery job, written in the same transaction as its message (no message without its job)."""
    await JobRepo(s).enqueue(
        DELIVER_JOB,
        {"partner_id": message.partner_id, "message_id": message.id},
        now=ctx.clock(),
        max_attempts=ctx.settings.delivery_max_attempts,
        order_key=f"chat:{message.chat_id}",
    )


class Tracker:
    """Moves a message's status and emits the matching event, in one transaction."""

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
    ) -> Message | None:
        """The move inside the caller's transaction; call :meth:`announce` once it has committed.
        ``chat``: the chat as the job loaded it (saves reloading)."""
        now = self.ctx.clock()
        repo = MessageRepo(s)
        message = await repo.get(partner_id, message_id)
        if message is None or message.delivery_status not in allowed_from:
            return None
        values: dict[str, object] = {"updated_at": now}
        if status is DeliveryStatus.SENT:
            values["sent_at"] = now
        if status in (DeliveryStatus.DELIVERED, DeliveryStatus.READ) and message.delivered_at is None:
            values["delivered_at"] = now
        if status is DeliveryStatus.READ:
            values["read_at"] = now
        if status is DeliveryStatus.FAILED:
            values.update(error_code=DELIVERY_FAILED, error_reason=error)
        await repo.set_status(message_id, status, **values)
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


class DeliverHandler:
    """Render (once per audio and profile), send through the line's sender, schedule receipts."""

    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx
        self.tracker = Tracker(ctx)
        self.policy = RetryPolicy(
            base_seconds=ctx.settings.delivery_retry_base_seconds, max_attempts=ctx.settings.delivery_max_attempts
        )

    async def run(self, job: Job) -> None:
        partner_id, message_id = job.payload["partner_id"], job.payload["message_id"]
        loaded = await self.tracker.load(partner_id, message_id)
        if loaded is None:
            return
        message, chat = loaded
        if message.delivery_status is not DeliveryStatus.QUEUED:
            return  # already sent (a re-run after a crash): nothing to do twice
        async with self.ctx.db.read() as s:
            line = await PartnerRepo(s).get_line(partner_id, chat.line_id)
        assert line is not None
        sender = self.ctx.senders.get(line.sender_kind)
        recipients = tuple(h.handle for h in chat.recipients)
        outgoing = Outgoing(
            message_id=message.id,
            chat_id=chat.id,
            from_number=chat.line_number,
            recipients=recipients,
            service=message.service,
            is_group=chat.is_group,
            texts=tuple(p.value or "" for p in message.parts if p.type == "text"),
        )
        audio = next((p.attachment for p in message.parts if p.attachment is not None), None)
        try:
            if audio is not None:
                rendition = await self._rendition(audio, message.service)
                async with self._local(rendition.blob_key) as path:
                    outgoing = replace(
                        outgoing,
                        file=path,
                        filename=rendition.filename,
                        mime_type=rendition.mime_type,
                        audio_message=message.kind == "voice_memo" and message.service is Service.IMESSAGE,
                    )
                    receipts = await sender.send(outgoing)
            else:
                receipts = await sender.send(outgoing)
        except (SendRejected, RenditionFailed) as exc:
            await self.tracker.move(
                partner_id, message_id, DeliveryStatus.FAILED, error=str(exc), allowed_from={DeliveryStatus.QUEUED}
            )
            return
        await self._sent(partner_id, message_id, chat, receipts)

    async def _sent(self, partner_id: str, message_id: str, chat: Chat, receipts: tuple[ExpectedReceipt, ...]) -> None:
        """Sent, and the receipts the sender will report, in one transaction."""
        async with self.ctx.db.write() as s:
            moved = await self.tracker.move_in(
                s, partner_id, message_id, DeliveryStatus.SENT, allowed_from={DeliveryStatus.QUEUED}, chat=chat
            )
            now = self.ctx.clock()
            for receipt in receipts if moved else ():
                await JobRepo(s).enqueue(
                    RECEIPT_JOB,
                    {
                        "partner_id": partner_id,
                        "message_id": message_id,
                        "handle": receipt.handle,
                        "kind": receipt.kind,
                    },
                    now=now,
                    run_at=now + timedelta(seconds=receipt.after_seconds),
                    order_key=f"rc:{message_id}",
                )
        self.tracker.announce(moved)

    async def give_up(self, job: Job, reason: str) -> None:
        await self.tracker.move(
            job.payload["partner_id"],
            job.payload["message_id"],
            DeliveryStatus.FAILED,
            error=f"Delivery failed after {job.attempts} attempts: {reason}",
            allowed_from={DeliveryStatus.QUEUED},
        )

    def _profile(self, service: Service) -> tuple[str, str, dict[str, int]]:
        settings = self.ctx.settings
        if service is Service.IMESSAGE:
            options = {
                "bit_rate": settings.opus_bit_rate,
                "desc_rate": settings.caf_sample_rate,
                "threads": settings.render_threads,
            }
            return "imessage", f"imessage-opus-{settings.opus_bit_rate}-{settings.caf_sample_rate}", options
        return "mms", f"mms-{settings.mms_max_bytes}", {"mms_max_bytes": settings.mms_max_bytes}

    async def _rendition(self, audio: Attachment, service: Service) -> StoredRendition:
        profile, key, options = self._profile(service)
        assert audio.sha256 is not None
        assert audio.blob_key is not None
        async with self.ctx.db.read() as s:
            cached = await RenditionRepo(s).get(audio.sha256, key)
        if cached is not None and await self.ctx.blobs.exists(cached.blob_key):
            return cached
        if audio.samples and audio.sample_rate:  # measured at intake: the renderer need not decode twice
            options = {**options, "source_samples": audio.samples, "source_rate": audio.sample_rate}
        async with self._local(audio.blob_key) as src, temp_path(self.ctx.settings.tmp_dir) as dst:
            made = await self.ctx.audio.render(src, dst, profile, **options)
            extension = made.filename.rsplit(".", 1)[-1]
            blob = await self.ctx.blobs.put_file(
                f"renditions/{audio.sha256}/{key}-{uuid.uuid4().hex[:8]}.{extension}", dst
            )
        stored = StoredRendition(
            str(uuid.uuid4()),
            audio.sha256,
            key,
            blob.key,
            made.mime_type,
            made.filename,
            blob.size,
            made.duration_ms,
            made.as_dict(),
        )
        async with self.ctx.db.write() as s:
            if not await RenditionRepo(s).add(stored, self.ctx.clock()):
                existing = await RenditionRepo(s).get(audio.sha256, key)
                assert existing is not None
                await self.ctx.blobs.delete(blob.key)
                return existing
        return stored

    def _local(self, blob_key: str) -> AbstractAsyncContextManager[Path]:
        return local_copy(self.ctx, blob_key)


@asynccontextmanager
async def local_copy(ctx: ServiceContext, key: str) -> AsyncIterator[Path]:
    """A filesystem path for a blob: the store's own, or a temp copy for remote stores."""
    local = ctx.blobs.local_path(key)
    if local is not None:
        yield local
        return
    async with temp_path(ctx.settings.tmp_dir) as path:
        await anyio.Path(path).write_bytes(await ctx.blobs.read(key))
        yield path


class ReceiptHandler:
    """A recipient's device reported delivered/read: record it and move the message when all have."""

    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx
        self.tracker = Tracker(ctx)
        self.policy = RetryPolicy(base_seconds=1.0, max_attempts=10)

    async def run(self, job: Job) -> None:
        partner_id, message_id = job.payload["partner_id"], job.payload["message_id"]
        loaded = await self.tracker.load(partner_id, message_id)
        if loaded is None:
            return
        _message, chat = loaded
        moves: list[Message | None] = []
        async with self.ctx.db.write() as s:  # the receipt and the moves it causes: one transaction
            repo = ReceiptRepo(s)
            await repo.record(message_id, job.payload["handle"], job.payload["kind"], self.ctx.clock())
            receipts = await repo.for_message(message_id)
            everyone = [h.handle for h in chat.recipients]
            if all(receipts.get(h, (None, None))[0] for h in everyone):
                moves.append(
                    await self.tracker.move_in(
                        s,
                        partner_id,
                        message_id,
                        DeliveryStatus.DELIVERED,
                        allowed_from={DeliveryStatus.SENT},
                        chat=chat,
                    )
                )
            if all(receipts.get(h, (None, None))[1] for h in everyone):
                moves.append(
                    await self.tracker.move_in(
                        s,
                        partner_id,
                        message_id,
                        DeliveryStatus.READ,
                        allowed_from={DeliveryStatus.SENT, DeliveryStatus.DELIVERED},
                        chat=chat,
                    )
                )
        for moved in moves:
            self.tracker.announce(moved)

    async def give_up(self, job: Job, reason: str) -> None:
        log.warning("receipt_dropped", action="gave_up", message_id=job.payload["message_id"], reason=reason)
