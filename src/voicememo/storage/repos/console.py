"""Reads for the web console's pages: chats with their latest message, sends and renditions in bulk.

Every query that starts from a partner filters on it; the bulk reads take ids already scoped by one.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from voicememo.domain.models import Chat
from voicememo.storage.repos.chats import ChatRepo
from voicememo.storage.repos.delivery import StoredRendition, _rendition
from voicememo.storage.repos.paging import older_than
from voicememo.storage.tables import ChatHandleRow, ChatRow, MessageRow, RenditionRow, SendRow


@dataclass(frozen=True, slots=True)
class ChatStats:
    count: int
    last_at: datetime | None
    last_status: str | None


@dataclass(frozen=True, slots=True)
class SendLine:
    seq: int
    provider: str
    state: str
    provider_message_id: str | None
    attempts: int
    first_attempt_at: datetime
    accepted_at: datetime | None
    error: str | None


def _like_fragment(text: str) -> str:
    """A LIKE pattern matching ``text`` anywhere, its own % and _ taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped.lower()}%"


class ConsoleRepo:
    def __init__(self, session: AsyncSession) -> None:
        self.s = session

    async def chats(self, partner_id: str, *, query: str | None, limit: int, cursor: str | None) -> list[Chat]:
        """The partner's chats newest first; ``query``: a recipient handle contains it (any case)."""
        stmt = select(ChatRow).where(ChatRow.partner_id == partner_id)
        if query:
            stmt = stmt.where(
                exists().where(
                    ChatHandleRow.chat_id == ChatRow.id,
                    ChatHandleRow.is_me.is_(False),
                    func.lower(ChatHandleRow.handle).like(_like_fragment(query), escape="\\"),
                )
            )
        after = older_than(ChatRow.created_at, ChatRow.id, cursor)
        if after is not None:
            stmt = stmt.where(after)
        stmt = stmt.order_by(ChatRow.created_at.desc(), ChatRow.id.desc()).limit(limit)
        return await ChatRepo(self.s)._load(stmt)

    async def chat_stats(self, partner_id: str, chat_ids: list[str]) -> dict[str, ChatStats]:
        """Per chat: how many messages, and the newest one's time and status (two statements)."""
        if not chat_ids:
            return {}
        counted = (
            await self.s.execute(
                select(MessageRow.chat_id, func.count(MessageRow.id), func.max(MessageRow.created_at))
                .where(MessageRow.partner_id == partner_id, MessageRow.chat_id.in_(chat_ids))
                .group_by(MessageRow.chat_id)
            )
        ).all()
        newest_status = (
            select(MessageRow.delivery_status)
            .where(MessageRow.chat_id == ChatRow.id)
            .order_by(MessageRow.created_at.desc(), MessageRow.id.desc())
            .limit(1)
            .correlate(ChatRow)
            .scalar_subquery()
        )
        statuses: dict[str, str | None] = dict(
            (
                await self.s.execute(
                    select(ChatRow.id, newest_status).where(ChatRow.partner_id == partner_id, ChatRow.id.in_(chat_ids))
                )
            ).all()
        )
        stats = {str(cid): ChatStats(int(n), last, statuses.get(cid)) for cid, n, last in counted}
        return {cid: stats.get(cid, ChatStats(0, None, None)) for cid in chat_ids}

    async def sends(self, message_ids: Iterable[str]) -> dict[str, list[SendLine]]:
        ids = list(message_ids)
        out: dict[str, list[SendLine]] = defaultdict(list)
        if not ids:
            return out
        rows = await self.s.scalars(select(SendRow).where(SendRow.message_id.in_(ids)).order_by(SendRow.seq))
        for r in rows:
            out[r.message_id].append(
                SendLine(
                    r.seq, r.provider, r.state, r.provider_message_id, r.attempts, r.first_attempt_at,
                    r.accepted_at, r.error,
                )
            )  # fmt: skip
        return out

    async def renditions(self, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], StoredRendition]:
        """Stored renditions by (sha256, profile)."""
        wanted = list(set(keys))
        if not wanted:
            return {}
        rows = await self.s.scalars(select(RenditionRow).where(RenditionRow.sha256.in_({sha for sha, _ in wanted})))
        return {(r.sha256, r.profile): _rendition(r) for r in rows if (r.sha256, r.profile) in wanted}
