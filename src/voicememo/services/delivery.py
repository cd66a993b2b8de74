"""Delivery: the job that renders a message's parts and sends them through its line's sender.

Each part is one provider item, sent exactly once (``services/sending.py``). Once the last
is accepted the message is ``sent``, in one transaction with the send record, the chat's
provider id and the reconciliation poll (and with any receipt the sender answered with at
once). A sender's permanent refusal fails the message (4001, with its reason); anything
retryable is retried with back-off, then fails. A memo
that the provider says went without the audio-message flag is reported failed, never as a
bubble.
"""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy.ext.asyncio import AsyncSession

from voicememo.audio.render import RenditionFailed
from voicememo.domain.models import Chat, DeliveryStatus, Line, Message, MessagePart, Service
from voicememo.jobs.retry import RetryPolicy
from voicememo.senders.base import Accepted, ChatRef, FilePayload, LineSender, Outgoing, SendRejected
from voicememo.services.context import ServiceContext
from voicememo.services.lines import LineService
from voicememo.services.receipts import ReceiptService, schedule_reconcile
from voicememo.services.renditions import Renditions, local_copy
from voicememo.services.sending import Dispatcher
from voicememo.services.tracker import Tracker
from voicememo.storage.repos.chats import ChatRepo
from voicememo.storage.repos.delivery import StoredRendition
from voicememo.storage.repos.jobs import Job, JobRepo
from voicememo.storage.repos.lines import LineRepo
from voicememo.storage.repos.messages import MessageRepo
from voicememo.storage.repos.sends import SendRecord, SendRepo

DELIVER_JOB = "deliver"
#: what a delivery reads first: message, chat, line (with its sealed secret), send records, stored renditions
_Loaded = tuple[Message, Chat, tuple[Line, str | None] | None, dict[int, SendRecord], dict[int, StoredRendition | None]]


async def enqueue_delivery(ctx: ServiceContext, s: AsyncSession, message: Message) -> None:
    """The delivery job, written in the same transaction as its message (no message without its job)."""
    await JobRepo(s).enqueue(
        DELIVER_JOB,
        {"partner_id": message.partner_id, "message_id": message.id},
        now=ctx.clock(),
        max_attempts=ctx.settings.delivery_max_attempts,
        order_key=f"chat:{message.chat_id}",
    )


class DeliverHandler:
    def __init__(self, ctx: ServiceContext, lines: LineService) -> None:
        self.ctx = ctx
        self.lines = lines
        self.tracker = Tracker(ctx)
        self.receipts = ReceiptService(ctx)
        self.dispatcher = Dispatcher(ctx)
        self.renditions = Renditions(ctx)
        self.policy = RetryPolicy(base_seconds=ctx.settings.delivery_retry_base_seconds)

    async def run(self, job: Job) -> bool | None:
        """True: the job was marked done with the message's last move, in one transaction."""
        loaded = await self._load(job.payload["partner_id"], job.payload["message_id"])
        if loaded is None:
            return None
        message, chat, line, records, cached = loaded
        if message.delivery_status is not DeliveryStatus.QUEUED:
            return None  # already settled (a re-run after a crash): nothing to do twice
        if line is None:
            return await self._failed(job, message, None, "The line this chat was sent from has been removed.")
        ref = ChatRef(
            chat.id, tuple(h.handle for h in chat.recipients), message.service, chat.is_group, chat.provider_chat_id
        )
        seq = 0
        try:
            sender = self.lines.bind(*line)  # a password sealed under another key: refused for good
            for seq, part in enumerate(message.parts):
                item, accepted = await self._send_part(
                    sender, line[0], message, ref, part, records.get(seq), seq, cached.get(seq)
                )
                ref = replace(ref, provider_chat_id=accepted.provider_chat_id or ref.provider_chat_id)
                last = seq == len(message.parts) - 1
                if await self._accepted(job, message, chat, line[0], item, accepted, last=last):
                    return True
        except (SendRejected, RenditionFailed) as exc:
            return await self._failed(job, message, seq, exc.message if isinstance(exc, SendRejected) else str(exc))
        return None

    async def _load(self, partner_id: str, message_id: str) -> _Loaded | None:
        """The message, its chat, its line (with the sealed secret), its send records and the stored
        renditions of its audio parts: one read."""
        async with self.ctx.db.read() as s:
            message = await MessageRepo(s).get(partner_id, message_id)
            chat = await ChatRepo(s).get(partner_id, message.chat_id) if message else None
            if message is None or chat is None:
                return None
            line = await LineRepo(s).with_secret(chat.line_id)
            records = await SendRepo(s).for_message(message_id)
            queued = DeliveryStatus.QUEUED
            cached = {
                seq: await self.renditions.cached_in(s, part.attachment, message.service)
                for seq, part in enumerate(message.parts)
                if part.attachment is not None and seq not in records and message.delivery_status is queued
            }
        return message, chat, line, records, cached

    async def _send_part(
        self,
        sender: LineSender,
        line: Line,
        message: Message,
        ref: ChatRef,
        part: MessagePart,
        record: SendRecord | None,
        seq: int,
        cached: StoredRendition | None,
    ) -> tuple[Outgoing, Accepted]:
        item = Outgoing(message.id, seq, ref, text=part.value if part.type == "text" else None)
        if part.attachment is None:
            return item, await self.dispatcher.dispatch(sender, line.sender_kind, line.id, item, record)
        rendition = await self.renditions.for_service(
            part.attachment, message.service, cached, looked_up=record is None
        )
        async with local_copy(self.ctx, rendition.blob_key) as path:
            item = replace(
                item,
                file=FilePayload(path, rendition.filename, rendition.mime_type, rendition.size_bytes),
                audio_message=message.kind == "voice_memo" and message.service is Service.IMESSAGE,
            )
            return item, await self.dispatcher.dispatch(sender, line.sender_kind, line.id, item, record)

    async def _accepted(
        self, job: Job, message: Message, chat: Chat, line: Line, item: Outgoing, accepted: Accepted, *, last: bool
    ) -> bool:
        """The item's acceptance (and, for the last, the message's ``sent`` and the job's end) in one
        transaction; True when the message is settled."""
        moved: Message | None = None
        error: str | None = None
        later: list[tuple[Message, str | None]] = []
        async with self.ctx.db.write() as s:
            now = self.ctx.clock()
            await SendRepo(s).accepted(message.id, item.seq, accepted.provider_message_id, now)
            if accepted.provider_chat_id and accepted.provider_chat_id != chat.provider_chat_id:
                await ChatRepo(s).update_chat(chat.id, provider_chat_id=accepted.provider_chat_id)
            if item.audio_message and accepted.audio_message is False:
                error = (
                    "The sender delivered the memo as a plain file, not as a voice-memo bubble: it reported the "
                    "message without the audio-message flag. Check the line with `voicememo lines check`."
                )
            if error or last:
                status = DeliveryStatus.FAILED if error else DeliveryStatus.SENT
                moved = await self.tracker.move_in(
                    s,
                    message.partner_id,
                    message.id,
                    status,
                    allowed_from={DeliveryStatus.QUEUED},
                    error=error,
                    chat=chat,
                    message=message,
                )
            current = moved or message
            if accepted.receipts and not error:  # answered at once: applied here, as a receipt job would
                for event in accepted.receipts:
                    for receipt_move in await self.receipts.apply_in(s, current, chat, event):
                        current = receipt_move
                        later.append((receipt_move, event.reason))
            if moved is not None and current.delivery_status is DeliveryStatus.SENT:
                # still only sent: poll the provider later unless receipts come (not once they came with the answer)
                await schedule_reconcile(self.ctx, s, moved, line.id)
            settled = bool(error) or last
            if settled:
                await JobRepo(s).settle_done(job, now=now)
        self.tracker.announce(moved, error)
        for receipt_move, reason in later:
            self.tracker.announce(receipt_move, reason)
        return settled

    async def _failed(self, job: Job, message: Message, seq: int | None, reason: str) -> bool:
        async with self.ctx.db.write() as s:
            if seq is not None:
                await SendRepo(s).refused(message.id, seq, reason)
            moved = await self.tracker.move_in(
                s,
                message.partner_id,
                message.id,
                DeliveryStatus.FAILED,
                allowed_from={DeliveryStatus.QUEUED},
                error=reason,
            )
            await JobRepo(s).settle_done(job, now=self.ctx.clock())
        self.tracker.announce(moved, reason)
        return True

    async def give_up(self, job: Job, reason: str) -> None:
        await self.tracker.move(
            job.payload["partner_id"],
            job.payload["message_id"],
            DeliveryStatus.FAILED,
            error=f"Delivery failed after {job.attempts} attempts: {reason}",
            allowed_from={DeliveryStatus.QUEUED},
        )
