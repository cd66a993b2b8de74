"""The core call: send a voice memo to every participant of a chat.

Everything that can fail because of the user's input (the chat, the URL, the bytes)
fails before anything is written; once the message row commits the memo is accepted
and the API must not answer 5xx for it (the SDKs would send it again).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from voicememo.audio.formats import FORMAT_BY_MIME, FORMATS
from voicememo.domain.filenames import sanitize_filename
from voicememo.domain.models import (
    Attachment,
    AttachmentStatus,
    Chat,
    DeliveryStatus,
    Message,
    MessagePart,
)
from voicememo.errors import (
    AttachmentNotFound,
    AttachmentNotReady,
    ChatNotFound,
    Conflict,
    InvalidParameter,
    MissingField,
    UnsupportedAudio,
)
from voicememo.net.fetch import check_url
from voicememo.services.attachments import needs_settling, settle_presigned
from voicememo.services.context import ServiceContext
from voicememo.services.delivery import enqueue_delivery
from voicememo.services.intake import Intake, check_and_store
from voicememo.storage.incoming import temp_path
from voicememo.storage.repos.attachments import AttachmentRepo
from voicememo.storage.repos.chats import ChatRepo
from voicememo.storage.repos.idempotency import record_effect
from voicememo.storage.repos.messages import MessageRepo

log = structlog.get_logger("voicememo.voicememos")


@dataclass(frozen=True)
class VoiceMemoSent:
    message: Message
    chat: Chat
    attachment: Attachment


class VoiceMemoService:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    async def send(
        self, partner_id: str, chat_id: str, voice_memo_url: str | None, attachment_id: str | None
    ) -> VoiceMemoSent:
        if voice_memo_url and attachment_id:
            raise InvalidParameter("Give either voice_memo_url or attachment_id, not both.")
        if not voice_memo_url and not attachment_id:
            raise MissingField("One of voice_memo_url (an HTTPS URL) or attachment_id is required.")
        if voice_memo_url:
            check_url(voice_memo_url)
        if attachment_id:
            return await self._send_uploaded(partner_id, chat_id, attachment_id)
        chat = await self._sendable_chat(partner_id, chat_id)
        recipients = [h.handle for h in chat.recipients]
        # Before any fetch or decode: a limited caller costs one lookup. Counted once the message commits.
        await self.ctx.rate_limiter.check(chat.line_number, recipients)
        assert voice_memo_url is not None
        attachment_id = str(uuid.uuid4())
        async with temp_path(self.ctx.settings.tmp_dir) as path:
            fetched = await self.ctx.fetcher.fetch_to(voice_memo_url, path)
            intake = await check_and_store(self.ctx, partner_id, attachment_id, path)
        attachment = self._fetched_attachment(partner_id, attachment_id, fetched.filename, voice_memo_url, intake)
        return await self._send_new(chat, attachment, intake)

    async def send_file(self, partner_id: str, chat_id: str, path: Path, filename: str) -> VoiceMemoSent:
        """A file already on this machine (the web console's upload): checked, measured and refused exactly
        as a fetched URL's bytes are; ``path`` is consumed."""
        chat = await self._sendable_chat(partner_id, chat_id)
        await self.ctx.rate_limiter.check(chat.line_number, [h.handle for h in chat.recipients])
        attachment_id = str(uuid.uuid4())
        intake = await check_and_store(self.ctx, partner_id, attachment_id, path)
        attachment = self._fetched_attachment(partner_id, attachment_id, filename, None, intake)
        return await self._send_new(chat, attachment, intake)

    async def _send_new(self, chat: Chat, attachment: Attachment, intake: Intake) -> VoiceMemoSent:
        recipients = [h.handle for h in chat.recipients]
        try:
            message = await self._record(chat, attachment, new_attachment=True)
        except BaseException:
            await self.ctx.blobs.delete(intake.blob.key)
            raise
        await self.ctx.rate_limiter.count(chat.line_number, recipients)
        self._accepted("url", message, attachment)
        return VoiceMemoSent(message, chat, attachment)

    async def _send_uploaded(self, partner_id: str, chat_id: str, attachment_id: str) -> VoiceMemoSent:
        """The hot path, one write unit: read the chat and the attachment, check the rate limit, write the
        message and its job. Whatever is refused there leaves nothing written."""
        async with self.ctx.db.write() as s:
            chat = _sendable(await ChatRepo(s).get(partner_id, chat_id))
            found = await AttachmentRepo(s).get(partner_id, attachment_id)
            recipients = [h.handle for h in chat.recipients]
            # Before anything is written: a limited caller costs one read. Counted once the message commits.
            await self.ctx.rate_limiter.check(chat.line_number, recipients)
            # bytes a client PUT straight to the bucket are checked outside the transaction, below
            unsettled = found if found is not None and needs_settling(self.ctx, found) else None
            if unsettled is None:
                attachment = _uploaded(found, attachment_id)
                message = self._new_message(chat, attachment)
                await self._write(s, message)
        if unsettled is None:
            self.ctx.wakeup.ring()
        else:
            attachment = _uploaded(await settle_presigned(self.ctx, unsettled), attachment_id)
            message = await self._record(chat, attachment, new_attachment=False)
        await self.ctx.rate_limiter.count(chat.line_number, recipients)
        self._accepted("attachment", message, attachment)
        return VoiceMemoSent(message, chat, attachment)

    def _accepted(self, source: str, message: Message, attachment: Attachment) -> None:
        found = FORMAT_BY_MIME.get(attachment.mime_type or attachment.content_type)
        fmt = found.value if found else "other"
        self.ctx.metrics.memos_accepted.labels(source, fmt).inc()
        log.info(
            "voicememo_accepted", action="accepted", message_id=message.id, chat_id=message.chat_id,
            attachment_id=attachment.id, source=source, format=fmt, duration_ms=attachment.duration_ms,
        )  # fmt: skip

    async def _sendable_chat(self, partner_id: str, chat_id: str) -> Chat:
        async with self.ctx.db.read() as s:
            return _sendable(await ChatRepo(s).get(partner_id, chat_id))

    def _fetched_attachment(
        self, partner_id: str, attachment_id: str, name: str, url: str | None, intake: Intake
    ) -> Attachment:
        info = intake.info
        extension = FORMATS[info.format].extension
        return Attachment(
            id=attachment_id,
            partner_id=partner_id,
            filename=sanitize_filename(name, "voice-memo", extension),
            content_type=info.mime_type,
            size_bytes=intake.blob.size,
            status=AttachmentStatus.COMPLETE,
            created_at=self.ctx.clock(),
            origin_url=url,
            **intake.attachment_fields(),
        )

    def _new_message(self, chat: Chat, attachment: Attachment) -> Message:
        now = self.ctx.clock()
        return Message(
            id=str(uuid.uuid4()),
            partner_id=chat.partner_id,
            chat_id=chat.id,
            from_number=chat.line_number,
            service=chat.service,
            kind="voice_memo",
            delivery_status=DeliveryStatus.QUEUED,
            created_at=now,
            updated_at=now,
            parts=(MessagePart(type="media", attachment=attachment),),
        )

    async def _record(self, chat: Chat, attachment: Attachment, *, new_attachment: bool) -> Message:
        message = self._new_message(chat, attachment)
        async with self.ctx.db.write() as s:
            if new_attachment:
                await AttachmentRepo(s).add(attachment)
            elif not await AttachmentRepo(s).exists(chat.partner_id, attachment.id):
                raise AttachmentNotFound(f"Attachment {attachment.id} was deleted meanwhile.")
            await self._write(s, message)
        self.ctx.wakeup.ring()
        return message

    async def _write(self, s: AsyncSession, message: Message) -> None:
        await MessageRepo(s).add(message)
        await enqueue_delivery(self.ctx, s, message)
        await record_effect(s, "voice_memo", message.id)


def _sendable(chat: Chat | None) -> Chat:
    if chat is None:
        raise ChatNotFound()
    if not chat.is_active:
        raise Conflict("This chat was left by your line; voice memos can no longer be sent to it.")
    if not chat.recipients:
        raise Conflict("This chat has no active participants to send to.")
    return chat


def _uploaded(attachment: Attachment | None, attachment_id: str) -> Attachment:
    if attachment is None:
        raise AttachmentNotFound(f"Attachment {attachment_id} not found.")
    if attachment.status is AttachmentStatus.PENDING:
        raise AttachmentNotReady(
            f"Attachment {attachment_id} is not uploaded yet: PUT the file to its upload_url first."
        )
    if attachment.status is AttachmentStatus.FAILED:
        raise UnsupportedAudio(attachment.failure_reason or "The uploaded file is not supported audio.")
    return attachment
