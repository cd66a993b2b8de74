"""The console's pages as read models: chats (searchable), one chat's conversation, the lines.

Nothing new is recorded for them: a message's ticks are its own timestamps (created → queued,
``sent_at``, ``delivered_at``, ``read_at``, or failed with its code and reason), its provider sends
are the ``sends`` rows, and the rendition it used is the one stored for (audio sha256, the profile
of the message's service) — the same lookup delivery makes.
"""

from __future__ import annotations

from voicememo.domain.models import Attachment, DeliveryStatus, Message, Service
from voicememo.domain.waveform import Waveform
from voicememo.errors import ChatNotFound, InvalidParameter
from voicememo.services.console.views import (
    ChatPage,
    ChatSummary,
    Conversation,
    LineView,
    MemoView,
    MessageView,
    PartView,
    RenditionView,
    SendView,
    StatusStep,
)
from voicememo.services.context import ServiceContext
from voicememo.services.lines import LineService
from voicememo.services.renditions import Renditions
from voicememo.storage.repos.chats import ChatRepo
from voicememo.storage.repos.console import ConsoleRepo, SendLine
from voicememo.storage.repos.delivery import StoredRendition
from voicememo.storage.repos.lines import LineRepo
from voicememo.storage.repos.messages import MessageRepo
from voicememo.storage.repos.paging import encode_cursor

MAX_PAGE = 200


def _check_limit(limit: int) -> None:
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidParameter(f"limit must be 1 to {MAX_PAGE}.")


class ConsoleReads:
    def __init__(self, ctx: ServiceContext, lines: LineService) -> None:
        self.ctx = ctx
        self.lines = lines
        self.renditions = Renditions(ctx)

    async def chats(
        self, partner_id: str, *, query: str | None = None, limit: int = 25, cursor: str | None = None
    ) -> ChatPage:
        """The partner's chats, newest first; ``query`` keeps chats with a recipient handle containing it
        (case-insensitive, e.g. "555" or "@example"). InvalidParameter for a bad cursor or limit."""
        _check_limit(limit)
        query = (query or "").strip()[:320] or None
        async with self.ctx.db.read() as s:
            repo = ConsoleRepo(s)
            chats = await repo.chats(partner_id, query=query, limit=limit + 1, cursor=cursor)
            page = chats[:limit]
            stats = await repo.chat_stats(partner_id, [c.id for c in page])
        summaries = tuple(ChatSummary(c, stats[c.id].last_at, stats[c.id].last_status, stats[c.id].count) for c in page)
        more = len(chats) > limit
        return ChatPage(summaries, encode_cursor(page[-1].created_at, page[-1].id) if more else None)

    async def conversation(
        self, partner_id: str, chat_id: str, *, limit: int = 50, before: str | None = None
    ) -> Conversation:
        """The chat's newest ``limit`` messages (before the cursor ``before``), returned oldest first.
        ChatNotFound when the chat is not the partner's."""
        _check_limit(limit)
        async with self.ctx.db.read() as s:
            chat = await ChatRepo(s).get(partner_id, chat_id)
            if chat is None:
                raise ChatNotFound(f"Chat {chat_id} not found.")
            messages = await MessageRepo(s).list_for_chat(partner_id, chat_id, limit + 1, before)
            page = messages[:limit]
            repo = ConsoleRepo(s)
            sends = await repo.sends(m.id for m in page)
            renditions = await repo.renditions(
                (a.sha256, self._profile_key(m.service)) for m, a in _memos(page) if a.sha256
            )
        views = tuple(self._message(m, sends.get(m.id, []), renditions) for m in reversed(page))
        more = len(messages) > limit
        return Conversation(chat, views, encode_cursor(page[-1].created_at, page[-1].id) if more else None)

    async def line_views(self, partner_id: str, *, check: bool = False) -> list[LineView]:
        """The partner's lines with their sender kind and health; ``check=True`` asks each sender now
        and registers the receipts callback again (what `voicememo lines check` does; slow)."""
        async with self.ctx.db.read() as s:
            lines = await LineRepo(s).list(partner_id)
        views = []
        for line in lines:
            if check:
                report = await self.lines.connect(line)
                health = report.health
                details = {**health.details, "problem": health.problem, "receipts": report.receipts}
                views.append(LineView(line, line.sender_kind, health.status, details, health.checked_at))
            else:
                details = dict(line.health or {})
                views.append(LineView(line, line.sender_kind, line.health_status, details, line.health_checked_at))
        return views

    def _profile_key(self, service: Service) -> str:
        return self.renditions.profile(service)[1]

    def _message(
        self, m: Message, sends: list[SendLine], renditions: dict[tuple[str, str], StoredRendition]
    ) -> MessageView:
        parts = []
        for p in m.parts:
            if p.attachment is None:
                parts.append(PartView(type=p.type, text=p.value))
                continue
            stored = renditions.get((p.attachment.sha256 or "", self._profile_key(m.service)))
            parts.append(PartView(type="media", memo=_memo(p.attachment, m.service, stored)))
        return MessageView(
            id=m.id,
            kind=m.kind,
            service=m.service.value,
            status=m.delivery_status.value,
            created_at=m.created_at,
            parts=tuple(parts),
            steps=_steps(m),
            sends=tuple(
                SendView(x.seq, x.provider, x.state, x.provider_message_id, x.attempts, x.first_attempt_at,
                         x.accepted_at, x.error)
                for x in sends
            ),
        )  # fmt: skip


def _memos(messages: list[Message]) -> list[tuple[Message, Attachment]]:
    return [(m, p.attachment) for m in messages for p in m.parts if p.attachment is not None]


def _steps(m: Message) -> tuple[StatusStep, ...]:
    steps = [StatusStep("queued", m.created_at)]
    for status, at in (("sent", m.sent_at), ("delivered", m.delivered_at), ("read", m.read_at)):
        if at is not None:
            steps.append(StatusStep(status, at))
    if m.delivery_status is DeliveryStatus.FAILED:
        steps.append(StatusStep("failed", m.updated_at, m.error_code, m.error_reason))
    return tuple(steps)


def _memo(a: Attachment, service: Service, stored: StoredRendition | None) -> MemoView:
    peaks = None
    if a.peaks:
        try:
            peaks = Waveform.decode(a.peaks).values
        except ValueError:
            peaks = None
    rendition = None
    if stored is not None:
        rendition = RenditionView(
            stored.profile, stored.mime_type, stored.filename, stored.size_bytes, stored.duration_ms, stored.details
        )
    return MemoView(
        attachment_id=a.id,
        filename=a.filename,
        duration_ms=a.duration_ms,
        mime_type=a.mime_type or a.content_type,
        codec=a.codec,
        size_bytes=a.size_bytes,
        peaks=peaks,
        rendition=rendition,
        fallback=None if service is Service.IMESSAGE else service.value,
    )
