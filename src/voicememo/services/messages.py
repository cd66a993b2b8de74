"""Reading messages back."""

from __future__ import annotations

from voicememo.domain.models import Message
from voicememo.errors import ChatNotFound, InvalidParameter, MessageNotFound
from voicememo.services.context import ServiceContext
from voicememo.storage.repos.chats import ChatRepo
from voicememo.storage.repos.messages import MessageRepo
from voicememo.storage.repos.paging import encode_cursor


class MessageService:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    async def get(self, partner_id: str, message_id: str) -> Message:
        async with self.ctx.db.read() as s:
            message = await MessageRepo(s).get(partner_id, message_id)
        if message is None:
            raise MessageNotFound()
        return message

    async def list_for_chat(
        self, partner_id: str, chat_id: str, limit: int, cursor: str | None
    ) -> tuple[list[Message], str | None]:
        if not 1 <= limit <= 100:
            raise InvalidParameter("limit must be between 1 and 100.")
        async with self.ctx.db.read() as s:
            if await ChatRepo(s).get(partner_id, chat_id) is None:
                raise ChatNotFound()
            messages = await MessageRepo(s).list_for_chat(partner_id, chat_id, limit + 1, cursor)
        more = len(messages) > limit
        messages = messages[:limit]
        next_cursor = encode_cursor(messages[-1].created_at, messages[-1].id) if more else None
        return messages, next_cursor
