"""The console's pages as read models: chats (searchable), one chat's conversation, the lines."""

from __future__ import annotations

from voicememo.services.console.views import ChatPage, Conversation, LineView
from voicememo.services.context import ServiceContext
from voicememo.services.lines import LineService


class ConsoleReads:
    def __init__(self, ctx: ServiceContext, lines: LineService) -> None:
        self.ctx = ctx
        self.lines = lines

    async def chats(
        self, partner_id: str, *, query: str | None = None, limit: int = 25, cursor: str | None = None
    ) -> ChatPage:
        """The partner's chats, newest first; ``query`` keeps chats with a recipient handle containing it
        (case-insensitive, e.g. "555" or "@example"). InvalidParameter for a bad cursor or limit."""
        raise NotImplementedError

    async def conversation(
        self, partner_id: str, chat_id: str, *, limit: int = 50, before: str | None = None
    ) -> Conversation:
        """The chat's newest ``limit`` messages (before the cursor ``before``), returned oldest first.
        ChatNotFound when the chat is not the partner's."""
        raise NotImplementedError

    async def line_views(self, partner_id: str, *, check: bool = False) -> list[LineView]:
        """The partner's lines with their sender kind and last stored health; ``check=True`` asks each
        sender now (what `voicememo lines check` does; slow: one call per line)."""
        raise NotImplementedError
