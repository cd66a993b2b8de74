"""Chats: create (or find) a chat from a line to a set of handles, read, list, change participants."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy.exc import IntegrityError

from voicememo.domain.handles import chat_service, normalize_handle, require_e164
from voicememo.domain.models import (
    AttachmentStatus,
    Chat,
    ChatHandle,
    DeliveryStatus,
    HandleStatus,
    Line,
    Message,
    MessagePart,
    Service,
)
from voicememo.errors import (
    AttachmentNotFound,
    AttachmentNotReady,
    ChatNotFound,
    Conflict,
    InvalidParameter,
    LineNotOwned,
    MissingField,
)
from voicememo.services import events
from voicememo.services.context import ServiceContext
from voicememo.services.delivery import enqueue_delivery
from voicememo.services.reach import ReachService
from voicememo.storage.repos.attachments import AttachmentRepo
from voicememo.storage.repos.chats import ChatRepo
from voicememo.storage.repos.idempotency import record_effect
from voicememo.storage.repos.lines import LineRepo
from voicememo.storage.repos.messages import MessageRepo
from voicememo.storage.repos.paging import encode_cursor

MAX_RECIPIENTS = 31
_GROUPS_ONLY = "Participants can only be added to or removed from group chats."
MAX_PARTS = 100


@dataclass(frozen=True)
class ChatCreated:
    chat: Chat
    message: Message
    created: bool


def participants_key(handles: list[str]) -> str:
    return "\n".join(sorted(handles))


class _LookupNeeded(Exception):
    """The chat vanished between the read and the write: look the services up again."""


class ChatService:
    def __init__(self, ctx: ServiceContext, reach: ReachService) -> None:
        self.ctx = ctx
        self.reach = reach

    async def create(
        self, partner_id: str, from_number: str | None, to: list[str] | None, message: dict[str, Any] | None
    ) -> ChatCreated:
        if not from_number:
            raise MissingField("from is required: one of your lines in E.164 format.")
        if not to:
            raise MissingField("to is required: 1 to 31 handles (E.164 numbers or e-mail addresses).")
        if message is None:
            raise MissingField("message is required, with at least one part.")
        require_e164(from_number, "from")
        recipients = list(dict.fromkeys(normalize_handle(h) for h in to))
        if len(recipients) > MAX_RECIPIENTS:
            raise InvalidParameter(f"to may name at most {MAX_RECIPIENTS} handles.")
        if from_number in recipients:
            raise InvalidParameter("to must not include the from line itself.")
        for attempt in range(3):
            async with self.ctx.db.read() as s:
                line = await LineRepo(s).by_number(from_number)
                if line is None or line.partner_id != partner_id:
                    raise LineNotOwned(
                        f"from {from_number} is not a line of this API key; list yours with GET /v3/phone_numbers."
                    )
                existing = await ChatRepo(s).find_by_participants(partner_id, line.id, participants_key(recipients))
            # Before the sender lookup and the write; counted once below, whatever the retries here.
            await self.ctx.rate_limiter.check(line.phone_number, recipients)
            # Asking the line's sender may take a round trip to a Mac: never inside the write transaction.
            services = None if existing else await self.reach.services_for(line, recipients)
            try:
                made = await self._create_once(partner_id, line, recipients, message, services)
            except (IntegrityError, _LookupNeeded):  # created (or removed) concurrently: look again
                if attempt == 2:
                    raise
                continue
            await self.ctx.rate_limiter.count(line.phone_number, [h.handle for h in made.chat.recipients])
            return made
        raise AssertionError("unreachable")

    async def _create_once(
        self,
        partner_id: str,
        line: Line,
        recipients: list[str],
        message: dict[str, Any],
        services: dict[str, Service] | None,
    ) -> ChatCreated:
        now = self.ctx.clock()
        async with self.ctx.db.write() as s:
            parts = await self._parts(s, partner_id, message)
            chats = ChatRepo(s)
            key = participants_key(recipients)
            chat = await chats.find_by_participants(partner_id, line.id, key)
            created = chat is None
            if chat is None:
                if services is None:
                    raise _LookupNeeded()
                handles = [
                    ChatHandle(
                        str(uuid.uuid4()), line.phone_number, Service.IMESSAGE, now, True, None, HandleStatus.ACTIVE
                    )
                ]
                handles += [
                    ChatHandle(str(uuid.uuid4()), h, services[h], now, False, None, HandleStatus.ACTIVE)
                    for h in recipients
                ]
                service = chat_service(h.service for h in handles if not h.is_me)
                handles[0] = replace(handles[0], service=service)
                chat = Chat(
                    id=str(uuid.uuid4()),
                    partner_id=partner_id,
                    line_id=line.id,
                    line_number=line.phone_number,
                    display_name=None,
                    is_group=len(recipients) > 1,
                    service=service,
                    created_at=now,
                    updated_at=now,
                    handles=tuple(handles),
                )
                await chats.add(chat, key)
                await events.emit(
                    self.ctx,
                    s,
                    partner_id=partner_id,
                    event_type="chat.created",
                    data=events.chat_data(self.ctx, chat),
                    line_number=line.phone_number,
                    subject_id=chat.id,
                )
            elif not chat.is_active:
                raise Conflict("This chat was left by your line; messages can no longer be sent to it.")
            msg = Message(
                id=str(uuid.uuid4()),
                partner_id=partner_id,
                chat_id=chat.id,
                from_number=line.phone_number,
                service=chat.service,
                kind="message",
                delivery_status=DeliveryStatus.QUEUED,
                created_at=now,
                updated_at=now,
                parts=parts,
                idempotency_key=_str_or_none(message.get("idempotency_key")),
            )
            await MessageRepo(s).add(msg)
            await enqueue_delivery(self.ctx, s, msg)
            await record_effect(s, "chat", msg.id)
        self.ctx.wakeup.ring()
        return ChatCreated(chat, msg, created)

    async def _parts(self, s: Any, partner_id: str, message: dict[str, Any]) -> tuple[MessagePart, ...]:
        raw = message.get("parts")
        if not isinstance(raw, list) or not raw:
            raise MissingField("message.parts is required: at least one text or media part.")
        if len(raw) > MAX_PARTS:
            raise InvalidParameter(f"message.parts may hold at most {MAX_PARTS} parts.")
        parts: list[MessagePart] = []
        for i, part in enumerate(raw):
            kind = part.get("type") if isinstance(part, dict) else None
            if kind == "text":
                value = part.get("value")
                if not isinstance(value, str) or not value.strip():
                    raise MissingField(f"message.parts[{i}].value is required for a text part.")
                parts.append(MessagePart(type="text", value=value))
            elif kind == "media":
                parts.append(await self._media_part(s, partner_id, part, i))
            else:
                raise InvalidParameter(f"message.parts[{i}].type must be 'text' or 'media'.")
        return tuple(parts)

    async def _media_part(self, s: Any, partner_id: str, part: dict[str, Any], i: int) -> MessagePart:
        if part.get("url"):
            raise InvalidParameter(
                f"message.parts[{i}]: media by url is not supported here; upload the file with "
                "POST /v3/attachments and pass its attachment_id (or send audio with /voicememo)."
            )
        attachment_id = part.get("attachment_id")
        if not attachment_id:
            raise MissingField(f"message.parts[{i}].attachment_id is required for a media part.")
        attachment = await AttachmentRepo(s).get(partner_id, str(attachment_id))
        if attachment is None:
            raise AttachmentNotFound(f"Attachment {attachment_id} not found.")
        if attachment.status is not AttachmentStatus.COMPLETE:
            raise AttachmentNotReady(f"Attachment {attachment_id} is not uploaded yet (status {attachment.status}).")
        return MessagePart(type="media", attachment=attachment)

    async def get(self, partner_id: str, chat_id: str) -> Chat:
        async with self.ctx.db.read() as s:
            chat = await ChatRepo(s).get(partner_id, chat_id)
        if chat is None:
            raise ChatNotFound()
        return chat

    async def search(
        self, partner_id: str, from_number: str | None, to: str | None, limit: int, cursor: str | None
    ) -> tuple[list[Chat], str | None]:
        if not 1 <= limit <= 100:
            raise InvalidParameter("limit must be between 1 and 100.")
        if from_number:
            require_e164(from_number, "from")
        handle = normalize_handle(to) if to else None
        async with self.ctx.db.read() as s:
            chats = await ChatRepo(s).search(
                partner_id, from_number=from_number, to_handle=handle, limit=limit + 1, cursor=cursor
            )
        more = len(chats) > limit
        chats = chats[:limit]
        next_cursor = encode_cursor(chats[-1].created_at, chats[-1].id) if more else None
        return chats, next_cursor

    async def add_participant(self, partner_id: str, chat_id: str, handle: str | None) -> Chat:
        return await self._change_participant(partner_id, chat_id, handle, add=True)

    async def remove_participant(self, partner_id: str, chat_id: str, handle: str | None) -> Chat:
        return await self._change_participant(partner_id, chat_id, handle, add=False)

    async def _change_participant(self, partner_id: str, chat_id: str, handle: str | None, *, add: bool) -> Chat:
        if not handle:
            raise MissingField("handle is required.")
        handle = normalize_handle(handle)
        service: Service | None = None
        if add:  # the new participant's service, asked before the write transaction
            async with self.ctx.db.read() as s:
                chat = await _group_chat(ChatRepo(s), partner_id, chat_id, _GROUPS_ONLY)
                line = await LineRepo(s).get(partner_id, chat.line_id)
            assert line is not None
            if handle not in {h.handle for h in chat.handles}:
                service = (await self.reach.services_for(line, [handle]))[handle]
        now = self.ctx.clock()
        async with self.ctx.db.write() as s:
            repo = ChatRepo(s)
            chat = await _group_chat(repo, partner_id, chat_id, _GROUPS_ONLY)
            if not chat.is_active:
                raise Conflict("This chat was left by your line; its participants can no longer be changed.")
            current = {h.handle: h for h in chat.handles if not h.is_me}
            active = [h for h, ch in current.items() if ch.status is HandleStatus.ACTIVE]
            if add:
                if handle in active:
                    raise Conflict(f"{handle} is already a participant of this chat.")
                if handle == chat.line_number:
                    raise InvalidParameter("Your own line is already part of the chat.")
                if len(active) >= MAX_RECIPIENTS:
                    raise InvalidParameter(f"A chat can have at most {MAX_RECIPIENTS} other participants.")
                if handle in current:
                    await repo.set_handle_status(chat.id, handle, HandleStatus.ACTIVE, now)
                else:
                    if service is None:
                        raise Conflict(f"{handle} was removed from this chat meanwhile; add it again.")
                    await repo.add_handle(
                        chat.id, ChatHandle(str(uuid.uuid4()), handle, service, now, False, None, HandleStatus.ACTIVE)
                    )
                active.append(handle)
            else:
                if handle not in active:
                    raise InvalidParameter(f"{handle} is not a participant of this chat.")
                if len(active) <= 2:
                    raise InvalidParameter("A group chat needs at least two other participants; cannot remove.")
                await repo.set_handle_status(chat.id, handle, HandleStatus.REMOVED, now)
                active.remove(handle)
            updated = await repo.get(partner_id, chat_id)
            assert updated is not None
            service = chat_service(h.service for h in updated.recipients)
            await repo.update_chat(
                chat.id, participants_key=participants_key(active), service=service.value, updated_at=now
            )
            result = await repo.get(partner_id, chat_id)
        assert result is not None
        return result

    async def leave(self, partner_id: str, chat_id: str) -> Chat:
        now = self.ctx.clock()
        async with self.ctx.db.write() as s:
            repo = ChatRepo(s)
            chat = await _group_chat(repo, partner_id, chat_id, "Only group chats can be left.")
            if chat.is_active:
                await repo.set_handle_status(chat.id, chat.line_number, HandleStatus.LEFT, now)
                await repo.update_chat(chat.id, updated_at=now)
            result = await repo.get(partner_id, chat_id)
        assert result is not None
        return result


async def _group_chat(repo: ChatRepo, partner_id: str, chat_id: str, not_group: str) -> Chat:
    chat = await repo.get(partner_id, chat_id)
    if chat is None:
        raise ChatNotFound()
    if not chat.is_group:
        raise InvalidParameter(not_group)
    return chat


def _str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
